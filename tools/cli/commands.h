// The commands of the `instadump` tool (docs/CLI.md). Each returns the
// process's exit status (cli_error.h) and throws cli_error when it cannot
// run; main.cpp parses the command line and prints the error.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace instadump::cli {

// ls DIR: the snapshots, newest first.
int run_ls(const std::filesystem::path& dir);

struct show_request {
  std::filesystem::path dir;
  std::optional<std::uint64_t> snapshot;  // default: the newest
  std::vector<std::string> keys;          // default: every value
  bool json = false;
};
// show: the values, readable or as JSON; export is show --json of every value.
int run_show(const show_request& request);

// verify DIR: every kept snapshot, value and chunk, and the journal.
int run_verify(const std::filesystem::path& dir);

// diff DIR ID1 ID2: what changed from snapshot ID1 to ID2.
int run_diff(const std::filesystem::path& dir, std::uint64_t from, std::uint64_t to);

// stats DIR: the LMDB environment, the journal, per-value sizes.
int run_stats(const std::filesystem::path& dir);

// backup DIR DEST: a compacted, consistent copy of a live store.
int run_backup(const std::filesystem::path& dir, const std::filesystem::path& dest);

struct restore_request {
  std::string url;    // libpq connection string or URI
  std::string store;  // setup_options::replicate.store
  std::filesystem::path dir;
  std::optional<std::uint64_t> snapshot;  // replicated snapshot (seq); default: the newest
};
// restore URL STORE DIR: a local store rebuilt from the copy in PostgreSQL.
int run_restore(const restore_request& request);

struct replication_request {
  std::string url;
  std::string store;
  std::optional<std::filesystem::path> dir;  // a writer's local directory: how far behind it is
};
// replication URL STORE [DIR]: what PostgreSQL holds for the store, and
// the lag of DIR.
int run_replication(const replication_request& request);

}  // namespace instadump::cli

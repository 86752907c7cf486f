// What the tool reads from data.mdb through LMDB itself, beside the store's
// API: the space the environment uses (free pages are not in store_stats),
// the newest snapshot in data.mdb alone (a read-only store lists the
// journal's too), and an online compacted copy (mdb_env_copy2 with MDB_CP_COMPACT, which
// runs in one read transaction: a consistent copy of a live store that
// never blocks its writer).
//
// LMDB forbids opening one environment twice in a process: call these while
// no snapshot_store of the same directory is open in this process.
#pragma once

#include <cstdint>
#include <filesystem>

namespace instadump::cli {

struct lmdb_space {
  std::uint64_t page_size = 0;
  std::uint64_t map_bytes = 0;
  std::uint64_t file_bytes = 0;
  std::uint64_t pages_used = 0;   // pages up to the last one in use
  std::uint64_t free_pages = 0;   // of those, pages on the free list (reused by later writes)
  std::uint64_t readers_used = 0; // reader slots taken (live and stale readers)
  std::uint64_t readers_max = 0;
};

// Throws cli_error when data.mdb in `dir` cannot be opened or read.
lmdb_space read_lmdb_space(const std::filesystem::path& dir);

// The newest snapshot data.mdb itself holds (0: none), without the
// journal's: the last key of the "snapshots" database (docs/FORMAT.md).
// Throws cli_error.
std::uint64_t newest_in_data_file(const std::filesystem::path& dir);

// Writes a compacted copy of data.mdb in `dir` to `dest`/data.mdb (`dest`
// exists, holds no data.mdb). Throws cli_error.
void copy_compacted(const std::filesystem::path& dir, const std::filesystem::path& dest);

}  // namespace instadump::cli

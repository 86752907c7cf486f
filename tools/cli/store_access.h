// Opening a state directory for the tool, read-only, with errors an
// operator can act on, and finding the snapshot a command names.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "storage/snapshot_store.h"

namespace instadump::cli {

// Opens the store in `dir` read-only: takes no lock and writes nothing, so
// it runs beside the application's writer and never blocks it. Throws
// cli_error when `dir` does not exist, is not a directory, holds no
// data.mdb (not an Instadump store), or the store cannot be opened (the
// store's own message: not LMDB, a newer format, ...).
std::unique_ptr<storage::snapshot_store> open_read_only(const std::filesystem::path& dir);

// Snapshot `id` of `store` when given, else the newest. Throws cli_error
// naming the directory when the store holds no snapshot, or no snapshot
// `id` (listing the ids it has).
storage::snapshot_info find_snapshot(const storage::snapshot_store& store, std::optional<std::uint64_t> id);

// Whether snapshot `id` is no longer in `store`: a writer running beside
// the tool pruned it (it keeps only its newest few) after the tool chose it.
bool pruned_meanwhile(const storage::snapshot_store& store, std::uint64_t id);

// The visitor of snapshot_store::read_snapshot with chunks.
using value_visitor = std::function<void(const storage::entry_info&, kj::ArrayPtr<const capnp::word>,
                                         const storage::chunk_source&)>;

// Reads snapshot `id` (default: the newest) with `visit`, calling
// `chosen(info)` first. When no id was given and a writer running beside
// pruned the newest between choosing and reading it (nothing was visited
// then: a read verifies before it visits), reads the new newest. Returns
// the snapshot read. Throws as find_snapshot and read_snapshot do.
storage::snapshot_info read_chosen_snapshot(const storage::snapshot_store& store, std::optional<std::uint64_t> id,
                                            const std::function<void(const storage::snapshot_info&)>& chosen,
                                            const value_visitor& visit);

// "2026-12-06T10:45:17.123Z": a snapshot's creation time, in UTC.
std::string format_time(std::int64_t unix_nanos);

}  // namespace instadump::cli

// The record of a new snapshot (the writer's steps after placing values),
// worked out in memory against what the writer knows of the chain: what the
// snapshot changes from the newest one, the record that says so, and what
// writing it lets the writer prune.
//
// Internal to instadump_storage.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include "storage/record_codec.h"
#include "storage/record_io.h"
#include "storage/snapshot_chain.h"
#include "storage/writer_state.h"

namespace instadump::storage {

// What a new snapshot changes from the newest one.
struct snapshot_change {
  view_change change;
  std::uint64_t value_count = 0;       // values the new snapshot holds
  std::optional<snapshot_view> whole;  // the new snapshot, when it had to be worked out
};

// The change of a snapshot built on snapshot `base_id` (0: an empty one)
// that stores `stored` (sorted by key id, unique) and drops the keys
// `removed` (sorted, unique, none of them stored). Building on the newest
// snapshot (the usual case) touches only what they name; building on an
// older or an empty base works out the whole new snapshot first, reading
// the base from `txn`. Throws save_failed when the base is not kept or
// cannot be read.
snapshot_change work_out_change(const writer_state& w, MDB_txn* txn, const store_dbis& dbis,
                                const std::filesystem::path& dir, std::uint64_t base_id,
                                const std::vector<stored_value>& stored, const std::vector<std::uint64_t>& removed);

// The record of snapshot `id`: what changed, or (every so often, or when
// the records on disk cannot be trusted) all of it.
snapshot_record build_record(const writer_state& w, std::uint64_t id, std::int64_t created, const snapshot_change& c);

// What writing a record (full or not) with change `change` lets go once
// `keep` snapshots are kept: the step of the chain, and every blob to
// delete -- those no kept snapshot has values in any more and those left
// to sweep (none while the records cannot be trusted).
struct pruning {
  chain_step step;
  std::vector<std::uint64_t> drop_blobs;
};
pruning plan_pruning(const writer_state& w, const view_change& change, bool full, unsigned keep);

}  // namespace instadump::storage

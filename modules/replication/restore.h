// Rebuilding a local store from the replicated copy: the values of one
// replicated snapshot, the chunks they reach and their schemas, written as
// one local snapshot. After it, the store is an ordinary one.
#pragma once

#include <cstdint>
#include <optional>

#include "replication/replicated_copy.h"
#include "storage/snapshot_store.h"

namespace instadump::replication {

// A replicated snapshot written into a local store, and the copy's entries
// for it (what snapshot_shipper::attach would read again).
struct restored_snapshot {
  std::uint64_t local_id = 0;  // 0: the copy had no snapshot, nothing was written
  std::uint64_t seq = 0;       // the replicated snapshot's
  copy_entries entries;
};

// Writes replicated snapshot `seq` (the newest when nullopt) into `local`,
// which must hold no snapshot yet, as one durable snapshot; returns its
// local id, or 0 when the copy has no snapshot (nothing written). Each
// value's bytes are checked against the checksum the copy recorded for them.
// Throws replication_error when PostgreSQL fails or has no snapshot `seq`,
// corrupt_data when the copy's bytes are damaged or a chunk is missing,
// save_failed when the local write fails, and invalid_option when `local`
// holds snapshots already.
std::uint64_t restore_from_copy(replicated_copy& copy, storage::snapshot_store& local,
                                std::optional<std::uint64_t> seq = std::nullopt);
// The same, also returning the entries it read.
restored_snapshot restore_snapshot_from_copy(replicated_copy& copy, storage::snapshot_store& local,
                                             std::optional<std::uint64_t> seq = std::nullopt);

}  // namespace instadump::replication

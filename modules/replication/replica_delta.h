// Bringing a reader's cache forward by one replicated snapshot: what that
// snapshot changed (its new values' bytes, its removals, the chunks new to
// the cache, its schemas), written onto the cache's newest snapshot as one
// local snapshot -- so a follower costs what changed, like the writer's save.
#pragma once

#include <cstdint>

#include "replication/replicated_copy.h"
#include "storage/snapshot_store.h"

namespace instadump::replication {

// Writes replicated snapshot `seq` into `cache` as the snapshot after
// `base_local_id`, which must be the cache's copy of snapshot seq - 1 (its
// newest). Returns the new local id.
//
// The chunks written are those the new values reach with ids at or above
// cache.next_chunk_id(): a writer numbers its chunks upwards and replicates
// every snapshot in order, so any lower one reached is one the cache holds
// already -- provided the cache keeps as many snapshots as the writer does
// (an older chunk the writer refers back to is then still kept).
//
// Each value's bytes are checked against the checksum the copy recorded.
// Throws replication_error when PostgreSQL fails or no longer holds `seq`
// (its rows were pruned: set the reader up again), corrupt_data when the
// copy's bytes are damaged or a chunk is missing, and save_failed when the
// local write fails (for example a chunk the cache pruned: the message says
// to keep setup_options::keep_generations at least the writer's).
std::uint64_t apply_replicated_snapshot(replicated_copy& copy, storage::snapshot_store& cache, std::uint64_t seq,
                                        std::uint64_t base_local_id);

}  // namespace instadump::replication

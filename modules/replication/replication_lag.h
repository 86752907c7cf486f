// How far a local store is behind its replicated copy, counted the same
// way by the writer (replication_status()) and by the operators' tool
// (`instadump replication URL STORE DIR`).
#pragma once

#include <cstdint>
#include <vector>

#include "storage/snapshot_types.h"

namespace instadump::replication {

struct local_lag {
  std::uint64_t snapshots = 0;  // kept local snapshots the copy lacks
  std::uint64_t bytes = 0;      // the bytes of the values each changed relative to the one before it
};

// The lag of the kept local snapshots `kept` (any order) after local
// snapshot `replicated_local_id`, the newest the copy has (0: none).
local_lag lag_after(std::vector<storage::snapshot_info> kept, std::uint64_t replicated_local_id);

}  // namespace instadump::replication

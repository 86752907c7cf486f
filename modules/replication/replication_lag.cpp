// lag_after (replication_lag.h).
#include "replication/replication_lag.h"

#include <algorithm>
#include <map>
#include <string_view>
#include <utility>

namespace instadump::replication {

local_lag lag_after(std::vector<storage::snapshot_info> kept, std::uint64_t replicated_local_id) {
  std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  local_lag lag;
  std::map<std::string_view, std::uint64_t> previous;  // key -> checksum of the snapshot before
  for (const auto& snap : kept) {
    std::map<std::string_view, std::uint64_t> now;
    for (const auto& e : snap.entries) {
      now.emplace(e.key, e.checksum);
      if (snap.id <= replicated_local_id) continue;
      auto it = previous.find(e.key);
      if (it == previous.end() || it->second != e.checksum) lag.bytes += e.size_bytes;
    }
    if (snap.id > replicated_local_id) ++lag.snapshots;
    previous = std::move(now);
  }
  return lag;
}

}  // namespace instadump::replication

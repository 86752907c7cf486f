// What the replicated copy holds for one key, the value's bytes aside: the
// metadata each entries row carries (replication/entry_column.h).
#pragma once

#include <cstdint>
#include <vector>

#include "storage/snapshot_types.h"

namespace instadump::replication {

struct copy_entry {
  storage::schema_identity schema;
  std::uint64_t checksum = 0;
  std::uint64_t size_bytes = 0;
  bool framed = false;
  std::vector<std::uint64_t> chunk_roots;

  friend bool operator==(const copy_entry&, const copy_entry&) = default;
};

}  // namespace instadump::replication

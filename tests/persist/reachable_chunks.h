// Test helper: the chunks a stored value reaches, taken out of its store as
// the store keeps them (re-sealed from the parsed view, which gives back
// the same bytes), for tests that damage them and decode them again.
#pragma once

#include "instadump/capnp_compat.h"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <span>
#include <vector>

#include "storage/chunk_format.h"
#include "storage/snapshot_store.h"

namespace test_util {

inline std::map<std::uint64_t, std::vector<std::byte>> reachable_chunks(const instadump::storage::chunk_source& chunks,
                                                                        std::span<const std::uint64_t> roots) {
  std::map<std::uint64_t, std::vector<std::byte>> out;
  std::deque<std::uint64_t> todo(roots.begin(), roots.end());
  while (!todo.empty()) {
    const std::uint64_t id = todo.front();
    todo.pop_front();
    const instadump::storage::chunk_view c = chunks.get(id);
    out[id] = instadump::storage::encode_chunk(id, c.schema, c.node_type, c.children, c.payload);
    todo.insert(todo.end(), c.children.begin(), c.children.end());
  }
  return out;
}

}  // namespace test_util

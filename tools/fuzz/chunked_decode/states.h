// The element type and the states of fuzz_chunked_decode (defined, with
// their [[instadump::state]] attribute, in states.cpp).
#pragma once

#include <cstdint>
#include <string>

import instadump;

namespace fz {

struct item {
  std::string name;
  std::int64_t count = 0;
  double weight = 0;
  bool operator==(const item&) const = default;
};

// A struct state whose collection members are stored node by node
// (ChunkedMembers).
struct world {
  std::int64_t tick = 0;
  instadump::pmap<std::int64_t, std::string> names;
  instadump::pvector<item> items;
  bool operator==(const world&) const = default;
};

extern instadump::ref<instadump::pmap<std::int64_t, std::string>> names;
extern instadump::ref<instadump::pset<std::string>> tags;
extern instadump::ref<instadump::pvector<item>> items;
extern instadump::ref<world> world_state;

}  // namespace fz

// Golden input: the persistent collections, as states, as members and nested.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "instadump_stub.h"

namespace coll {
struct record {
  std::string name;
  instadump::pvector<std::int32_t> history;
  instadump::pset<std::string> tags;
};
[[instadump::state]] instadump::ref<instadump::pmap<std::int64_t, record>> records;
[[instadump::state]] instadump::ref<instadump::pvector<instadump::pmap<std::string, double>>> tables;
[[instadump::state]] instadump::ref<instadump::pset<std::int64_t>> ids;
// A std::map of the same entries: the same layout as the pmap above.
[[instadump::state]] instadump::ref<std::map<std::int64_t, record>> plain;
// A struct state: its collection members (one of them in a member struct)
// are saved node by node (chunked_members<store>).
struct shelf {
  std::string label;
  instadump::pvector<std::int64_t> slots;
};
struct store {
  std::int64_t revision = 0;
  instadump::pmap<std::int64_t, record> stock;
  shelf front;
};
[[instadump::state]] instadump::ref<store> shop;
}  // namespace coll

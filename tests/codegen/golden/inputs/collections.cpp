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
}  // namespace coll

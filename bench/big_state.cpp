// The big-state benchmarks' states (persist_big_state_bench.cpp): the same
// records in a pmap and in a std::map, and in a pvector, with generated
// codecs, and nested: 1,000 maps of 1,000 records. Empty except while a big-state benchmark runs.
#include <cstdint>
#include <map>

#include "big_state.h"

import instadump;

namespace bench {
[[instadump::state]] instadump::ref<instadump::pmap<std::int64_t, record>> records;
[[instadump::state]] instadump::ref<std::map<std::int64_t, record>> std_records;
[[instadump::state]] instadump::ref<instadump::pvector<record>> record_list;
[[instadump::state]] instadump::ref<world> world_state;
[[instadump::state]] instadump::ref<instadump::pmap<std::int64_t, instadump::pmap<std::int64_t, record>>> record_groups;
}  // namespace bench

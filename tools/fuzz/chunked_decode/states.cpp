// The states fuzz_chunked_decode decodes: one of each collection kind stored
// node by node (pmap, pset, pvector), with element types that exercise the
// generated codecs' strings, structs and widths, and a struct state with
// such members.
#include "states.h"

namespace fz {

[[instadump::state]] instadump::ref<instadump::pmap<std::int64_t, std::string>> names;
[[instadump::state]] instadump::ref<instadump::pset<std::string>> tags;
[[instadump::state]] instadump::ref<instadump::pvector<item>> items;
[[instadump::state]] instadump::ref<world> world_state;

}  // namespace fz

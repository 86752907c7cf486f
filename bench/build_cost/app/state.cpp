// The states: the only file of the app that holds [[instadump::state]].
#include "state.h"

namespace shop {
[[instadump::state]] instadump::ref<std::map<std::string, item>> stock;
[[instadump::state]] instadump::ref<std::vector<order>> orders;
[[instadump::state]] instadump::ref<std::int64_t> visits{0};
}  // namespace shop

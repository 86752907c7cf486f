// The consumer's durable state: the example of the README.
#include "state.h"

namespace shop {
[[instadump::state]] instadump::ref<int> visits{150};
[[instadump::state]] instadump::ref<std::map<std::string, Item>> stock;
[[instadump::state]] instadump::ref<Mode> mode{Mode::idle};
}  // namespace shop

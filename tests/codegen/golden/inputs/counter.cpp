// Golden input: the counter example's two states.
#include <string>

#include "instadump_stub.h"

namespace counter {
[[instadump::state]] instadump::ref<int> visits{150};
[[instadump::state]] instadump::ref<std::string> name{"abc"};
}  // namespace counter

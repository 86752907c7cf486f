#include <vector>

#include "instadump_stub.h"
// A type nested deeper than a load reads (64 levels, the state's root struct
// included) could never be saved: refused when the program is built.
template <int N>
struct level {
  level<N - 1> inner;
};
template <>
struct level<0> {
  int value = 0;
};
struct lists {
  // 4 lists, then 61 structs, the first inside the last list (no level of its own)
  std::vector<std::vector<std::vector<std::vector<level<60>>>>> nested;
};
namespace app {
[[instadump::state]] instadump::ref<level<62>> deepest;  // 64 levels: fine
[[instadump::state]] instadump::ref<level<63>> too_deep;  // expect-error: cannot persist app::too_deep: a value of ::level<63> can nest structs and lists 65 levels deep (its root struct included), and a load reads at most 64
[[instadump::state]] instadump::ref<lists> too_many_lists;  // expect-error: cannot persist app::too_many_lists: a value of ::lists can nest structs and lists 66 levels deep
}  // namespace app

#include "instadump_stub.h"
namespace app {
[[instadump::state]] int visits = 0;  // expect-error: the type of state 'app::visits' must be instadump::ref<T>; found 'int'
}

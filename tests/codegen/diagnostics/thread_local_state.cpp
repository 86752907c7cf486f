#include "instadump_stub.h"
namespace app {
[[instadump::state]] thread_local instadump::ref<int> per_thread;  // expect-error: a state cannot be thread_local
}

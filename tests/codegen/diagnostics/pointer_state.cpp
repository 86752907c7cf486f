#include "instadump_stub.h"
namespace app {
[[instadump::state]] instadump::ref<const char*> name;  // expect-error: cannot persist app::name: raw pointers are not supported
}

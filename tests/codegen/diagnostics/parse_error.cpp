#include "instadump_stub.h"
namespace app {
[[instadump::state]] instadump::ref<std::string> name;  // expect-error: use of undeclared identifier 'std'
}

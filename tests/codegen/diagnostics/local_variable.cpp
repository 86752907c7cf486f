#include "instadump_stub.h"
void f() {
  [[instadump::state]] instadump::ref<int> counter;  // expect-error: instadump::state applies to variables at namespace scope and static data members; this is a local variable
  [[instadump::state]] static instadump::ref<int> once;  // expect-error: this is a function-local static
}

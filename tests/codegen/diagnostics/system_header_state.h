#pragma once
#pragma GCC system_header
#include "instadump_stub.h"
[[instadump::state]] inline instadump::ref<int> system_counter;  // expect-error: a state must be defined in a source file scanned by instadump_add_state, not in a header

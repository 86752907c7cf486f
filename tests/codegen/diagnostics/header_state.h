#pragma once
#include "instadump_stub.h"
[[instadump::state]] inline instadump::ref<int> shared_counter;  // expect-error: a state must be defined in a source file scanned by instadump_add_state, not in a header

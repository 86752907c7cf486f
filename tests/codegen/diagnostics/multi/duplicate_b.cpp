// Scanned together with duplicate_a.cpp: both define the state `counter`.
#include "instadump_stub.h"
namespace {
[[instadump::state]] instadump::ref<int> counter;
}  // namespace

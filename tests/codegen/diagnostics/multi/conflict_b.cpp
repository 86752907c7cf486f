// Scanned together with conflict_a.cpp: another Item, another shape.
#include "instadump_stub.h"
namespace {
struct Item { double qty; };
[[instadump::state]] instadump::ref<Item> second;
}  // namespace

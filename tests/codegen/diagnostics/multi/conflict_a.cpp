// Scanned together with conflict_b.cpp: both define an anonymous-namespace Item.
#include "instadump_stub.h"
namespace {
struct Item { int qty; };
[[instadump::state]] instadump::ref<Item> first;
}  // namespace

#include "inventory.h"

namespace inventory {
[[instadump::state]] instadump::ref<std::map<std::string, int>> stock;

void add(const std::string& item, int n) {
  stock.alter([&](std::map<std::string, int> s) {
    s[item] += n;
    return s;
  });
}
}  // namespace inventory

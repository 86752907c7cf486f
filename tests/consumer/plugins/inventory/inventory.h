// A state in a static library: the stock count per item.
#pragma once

#include <map>
#include <string>

import instadump;

namespace inventory {
extern instadump::ref<std::map<std::string, int>> stock;
// Adds `n` of `item`. REQUIRES: inside a transaction.
void add(const std::string& item, int n);
}  // namespace inventory

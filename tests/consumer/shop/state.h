// The consumer's state types and globals (declared here, defined in state.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

import instadump;

struct Item {
  std::string name;
  int64_t qty = 0;
  std::optional<double> price;
  std::vector<std::string> tags;
};
enum class Mode { idle, busy };

namespace shop {
extern instadump::ref<int> visits;
extern instadump::ref<std::map<std::string, Item>> stock;
extern instadump::ref<Mode> mode;
}  // namespace shop

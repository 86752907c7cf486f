// The app's durable state (defined in state.cpp) and its types.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

import instadump;

namespace shop {

struct item {
  std::string name;
  std::int64_t quantity = 0;
  std::optional<double> price;
  std::vector<std::string> tags;
};

struct order {
  std::uint64_t id = 0;
  std::vector<std::pair<std::string, std::int64_t>> lines;
  bool shipped = false;
};

extern instadump::ref<std::map<std::string, item>> stock;
extern instadump::ref<std::vector<order>> orders;
extern instadump::ref<std::int64_t> visits;

// A text summary of the stock (report.cpp).
std::string stock_report(const std::map<std::string, item>& stock, std::size_t top);

}  // namespace shop

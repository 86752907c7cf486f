// The inventory example's types: nested structs, maps, optionals, variants
// and enums, declared in a header the way most programs do it.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace inventory {

enum class category { food, tools, toys };

struct address {
  std::string street;
  std::string city;
  std::optional<std::string> note;
  friend bool operator==(const address&, const address&) = default;
};

struct percent_off {
  double percent = 0;
  friend bool operator==(const percent_off&, const percent_off&) = default;
};

struct bundle {
  std::string with_sku;
  std::uint32_t together = 2;
  friend bool operator==(const bundle&, const bundle&) = default;
};

struct stock_item {
  std::int64_t qty = 0;
  std::optional<double> price;
  category cat = category::food;
  std::variant<std::monostate, percent_off, bundle> promotion;
  friend bool operator==(const stock_item&, const stock_item&) = default;
};

struct warehouse {
  address where;
  std::map<std::string, stock_item> items;  // by SKU
  friend bool operator==(const warehouse&, const warehouse&) = default;
};

struct order_line {
  std::string sku;
  std::int64_t qty = 0;
  friend bool operator==(const order_line&, const order_line&) = default;
};

struct order {
  std::uint64_t id = 0;
  std::string warehouse;
  std::vector<order_line> lines;
  std::chrono::system_clock::time_point placed;
  friend bool operator==(const order&, const order&) = default;
};

}  // namespace inventory

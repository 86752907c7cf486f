// State types declared in a header, covering every supported kind of type:
// the round-trip test (roundtrip_test.cpp) stores each through the generated
// codec and a real save/reload.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

namespace rt {

enum class color : std::uint8_t { red, green = 5, blue = 9, azure = 9 /* alias of blue */ };
enum legacy_mode { LEGACY_OFF, LEGACY_ON };

struct scalars {
  bool b = false;
  std::int8_t i8 = 0;
  std::int16_t i16 = 0;
  std::int32_t i32 = 0;
  std::int64_t i64 = 0;
  std::uint8_t u8 = 0;
  std::uint16_t u16 = 0;
  std::uint32_t u32 = 0;
  std::uint64_t u64 = 0;
  float f = 0;
  double d = 0;
  char c = 0;
  long l = 0;
  unsigned long long ull = 0;
  friend bool operator==(const scalars&, const scalars&) = default;
};

struct base_part {
  std::string base_name;
  friend bool operator==(const base_part&, const base_part&) = default;
};

// A derived aggregate: base members come first.
struct derived : base_part {
  int extra = 0;
  friend bool operator==(const derived&, const derived&) = default;
};

template <class T>
struct box {
  T inside{};
  std::optional<T> maybe;
  friend bool operator==(const box&, const box&) = default;
};

// A recursive type.
struct node {
  std::string label;
  std::vector<node> children;
  friend bool operator==(const node&, const node&) = default;
};

using label_list = std::vector<std::string>;  // an alias

struct everything {
  scalars s;
  std::string text;
  label_list labels;
  std::deque<std::int32_t> dq;
  std::array<double, 3> arr{};
  std::set<std::string> tags;
  std::unordered_set<std::int64_t> ids;
  std::map<std::string, scalars> by_name;
  std::unordered_map<std::int32_t, std::vector<color>> colors_by_id;
  std::optional<std::string> maybe_text;
  std::optional<std::optional<int>> nested_optional;
  std::pair<int, std::string> pair;
  std::tuple<bool, double, color> tuple;
  std::variant<std::monostate, int, std::string, scalars> var;
  std::vector<std::byte> bytes;
  std::vector<std::uint8_t> octets;
  std::chrono::milliseconds timeout{0};
  std::chrono::duration<double> seconds_d{0};
  std::chrono::system_clock::time_point at{};
  color col = color::red;
  legacy_mode legacy = LEGACY_OFF;
  derived der;
  box<int> boxed;
  node tree;
  std::vector<std::vector<std::string>> grid;
  std::vector<bool> flags;
  friend bool operator==(const everything&, const everything&) = default;
};

}  // namespace rt

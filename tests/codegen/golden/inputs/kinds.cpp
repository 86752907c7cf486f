// Golden input: one of every kind of type the tool supports.
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
#include <variant>
#include <vector>

#include "instadump_stub.h"

namespace kinds {
enum color { RED_APPLE, green_leaf, Blue };
struct base { bool flag; };
template <class T> struct box { T inside; };
struct tree { std::string label; std::vector<tree> children; };
struct all : base {
  std::int8_t i8; std::uint16_t u16; std::uint32_t u32; std::uint64_t u64; float f; double d;
  std::deque<std::int16_t> dq;
  std::array<std::string, 2> arr;
  std::set<std::int32_t> s;
  std::unordered_set<std::string> us;
  std::unordered_map<std::string, std::vector<color>> um;
  std::optional<std::optional<bool>> oo;
  std::pair<int, std::string> p;
  std::tuple<bool, double, color> t;
  std::variant<std::monostate, int, std::string, box<int>> v;
  std::vector<std::byte> bytes;
  std::vector<std::uint8_t> octets;
  std::chrono::milliseconds ms;
  std::chrono::duration<double> secs;
  std::chrono::system_clock::time_point at;
  tree root;
  std::vector<std::vector<std::string>> grid;
};
[[instadump::state]] instadump::ref<all> everything;
[[instadump::state]] instadump::ref<std::vector<box<double>>> boxes;
}  // namespace kinds

// Element types whose collections use tiny nodes (4 entries a leaf, 4
// children a branch; pvector width 4), so that a few hundred elements make
// trees of four or five levels: splits, merges and borrowing at every level
// are exercised by short random operation sequences.
//
// Include after `import instadump;` (these specialize its templates).
#pragma once

#include <compare>
#include <cstdint>
#include <ostream>

#include <rapidcheck.h>

namespace collections_test {

// A key (or element) with tiny nodes.
struct tiny {
  std::int64_t v = 0;
  auto operator<=>(const tiny&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const tiny& t) { return os << "tiny{" << t.v << "}"; }

}  // namespace collections_test

namespace instadump::detail {
template <class V>
struct btree_limits<collections_test::tiny, V> {
  static constexpr std::size_t leaf_capacity = 4;
  static constexpr std::size_t branch_capacity = 4;
};
template <>
struct pvector_limits<collections_test::tiny> {
  static constexpr unsigned width_bits = 2;
};
}  // namespace instadump::detail

namespace rc {
template <>
struct Arbitrary<collections_test::tiny> {
  static Gen<collections_test::tiny> arbitrary() {
    return gen::map(gen::inRange<std::int64_t>(0, 400), [](std::int64_t v) { return collections_test::tiny{v}; });
  }
};
}  // namespace rc

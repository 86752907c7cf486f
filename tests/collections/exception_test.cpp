// Exception safety and memory: an element copy that throws in the middle
// of a change leaves every collection (and a transient) as it was and leaks
// nothing; nodes are freed when the last version holding them goes away.
// Run under ASan with leak detection too.
#include <catch2/catch.hpp>

#include <algorithm>
#include <compare>
#include <cstdint>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

import instadump;
#include "small_nodes.h"

namespace {

using collections_test::tiny;

// An element whose copy throws once `countdown` more copies were made
// (never while it is -1); moves never throw. Counts live instances.
struct bomb {
  static inline long live = 0;
  static inline long countdown = -1;
  std::int64_t v = 0;

  bomb(std::int64_t x = 0) : v(x) { ++live; }
  bomb(const bomb& o) : v(o.v) {
    if (countdown == 0) throw std::runtime_error("bomb");
    if (countdown > 0) --countdown;
    ++live;
  }
  bomb(bomb&& o) noexcept : v(o.v) { ++live; }
  bomb& operator=(const bomb& o) {
    if (countdown == 0) throw std::runtime_error("bomb");
    if (countdown > 0) --countdown;
    v = o.v;
    return *this;
  }
  bomb& operator=(bomb&&) noexcept = default;
  ~bomb() { --live; }
  auto operator<=>(const bomb& o) const { return v <=> o.v; }
  bool operator==(const bomb& o) const { return v == o.v; }
};

// Runs `change` with the k-th element copy throwing, for k = 0, 1, ...
// until it succeeds; after each failure `unchanged` must hold and no
// element may have leaked. Returns how many copies the change made.
template <class Change, class Unchanged>
int explode_each_copy(Change change, Unchanged unchanged) {
  for (int k = 0;; ++k) {
    long live = bomb::live;
    bomb::countdown = k;
    try {
      change();
      bomb::countdown = -1;
      return k;
    } catch (const std::runtime_error&) {
      bomb::countdown = -1;
      INFO("copy " << k << " threw");
      REQUIRE(bomb::live == live);
      unchanged();
    }
  }
}

}  // namespace

namespace instadump::detail {
template <class V>
struct btree_limits<bomb, V> {
  static constexpr std::size_t leaf_capacity = 4;
  static constexpr std::size_t branch_capacity = 4;
};
template <>
struct pvector_limits<bomb> {
  static constexpr unsigned width_bits = 2;
};
}  // namespace instadump::detail

TEST_CASE("a throwing copy during a pmap change leaves the map and its transients unchanged",
          "[collections][exceptions]") {
  using map_t = instadump::pmap<tiny, bomb>;
  using access = instadump::detail::pmap_access<tiny, bomb>;
  {
    std::map<tiny, bomb> model;
    for (int i = 0; i < 200; i += 2) model.emplace(tiny{i}, bomb(i));
    const map_t m = map_t::from_sorted(model.begin(), model.end());
    auto same = [&] {
      REQUIRE(access::check(m) == "");
      REQUIRE(m.size() == model.size());
      REQUIRE(std::equal(m.begin(), m.end(), model.begin(), [](auto a, const auto& b) {
        return a.first == b.first && a.second == b.second;
      }));
    };
    map_t out;
    CHECK(explode_each_copy([&] { out = m.set(tiny{51}, bomb(1)); }, same) > 0);     // insert, splits
    CHECK(explode_each_copy([&] { out = m.set(tiny{50}, bomb(1)); }, same) > 0);     // replace
    CHECK(explode_each_copy([&] { out = m.erase(tiny{50}).erase(tiny{52}).erase(tiny{54}); }, same) > 0);  // merges
    CHECK_THROWS_AS(out = m.update(tiny{50}, [](const bomb&) -> bomb { throw std::runtime_error("bomb"); }),
                    std::runtime_error);
    same();

    // A transient: the first change copies the shared path (may throw), the
    // next ones change its own nodes in place or copy them (splits, merges).
    std::map<tiny, bomb> mine = model;
    auto t = m.transient();
    auto both_same = [&] {
      same();
      REQUIRE(t.size() == mine.size());
      for (const auto& [k, v] : mine) REQUIRE((t.find(k) && *t.find(k) == v));
    };
    for (int i = 1; i < 200; i += 2) {
      explode_each_copy([&] { t.set(tiny{i}, bomb(i)); }, both_same);
      mine.insert_or_assign(tiny{i}, bomb(i));
    }
    for (int i = 0; i < 200; i += 3) {
      explode_each_copy([&] { t.erase(tiny{i}); }, both_same);
      mine.erase(tiny{i});
    }
    map_t after = std::move(t).persistent();
    REQUIRE(access::check(after) == "");
    CHECK(after.size() == mine.size());
    same();
  }
  CHECK(bomb::live == 0);
}

TEST_CASE("a throwing copy during a pset or pvector change leaves it unchanged", "[collections][exceptions]") {
  {
    std::vector<bomb> keys;
    for (int i = 0; i < 300; i += 3) keys.emplace_back(i);
    const auto s = instadump::pset<bomb>::from_sorted(keys.begin(), keys.end());
    auto same = [&] {
      REQUIRE(instadump::detail::pset_access<bomb>::check(s) == "");
      REQUIRE(std::vector<bomb>(s.begin(), s.end()) == keys);
    };
    instadump::pset<bomb> out;
    // Keys are copied into leaves and, as separators, into branches.
    CHECK(explode_each_copy([&] { out = s.insert(bomb(31)).insert(bomb(32)).insert(bomb(34)); }, same) > 0);
    CHECK(explode_each_copy([&] { out = s.erase(bomb(30)).erase(bomb(33)).erase(bomb(36)); }, same) > 0);

    const instadump::pvector<bomb> v(keys.begin(), keys.end());
    auto same_v = [&] {
      REQUIRE(instadump::detail::pvector_access<bomb>::check(v) == "");
      REQUIRE(std::vector<bomb>(v.begin(), v.end()) == keys);
    };
    instadump::pvector<bomb> w;
    CHECK(explode_each_copy([&] { w = v.set(5, bomb(-1)); }, same_v) > 0);
    CHECK(explode_each_copy([&] { w = v.set(99, bomb(-1)); }, same_v) > 0);
    CHECK(explode_each_copy([&] { w = v.pop_back().push_back(bomb(7)); }, same_v) > 0);
  }
  CHECK(bomb::live == 0);
}

TEST_CASE("nodes are freed when the last version holding them goes away", "[collections][memory]") {
  std::mt19937 rng(3);
  {
    std::vector<instadump::pmap<tiny, bomb>> versions(1);
    std::vector<instadump::pvector<bomb>> vectors(1);
    for (int i = 0; i < 2000; ++i) {
      const auto& m = versions[rng() % versions.size()];
      versions.push_back(rng() % 3 ? m.set(tiny{std::int64_t(rng() % 500)}, bomb(i)) : m.erase(tiny{std::int64_t(rng() % 500)}));
      const auto& v = vectors[rng() % vectors.size()];
      vectors.push_back(rng() % 3 || v.empty() ? v.push_back(bomb(i)) : rng() % 2 ? v.pop_back() : v.set(rng() % v.size(), bomb(i)));
    }
    std::shuffle(versions.begin(), versions.end(), rng);
    std::shuffle(vectors.begin(), vectors.end(), rng);
    while (versions.size() > 1) {
      versions.pop_back();
      vectors.pop_back();
    }
    long kept = bomb::live;
    CHECK(kept == static_cast<long>(versions[0].size() + vectors[0].size()));
  }
  CHECK(bomb::live == 0);
}

TEST_CASE("elements whose moves may throw are copied instead of moved in place", "[collections][exceptions]") {
  struct heavy {  // a move that is not noexcept
    std::string s;
    heavy(std::string x = "") : s(std::move(x)) {}
    heavy(const heavy&) = default;
    heavy(heavy&& o) : s(std::move(o.s)) {}
    heavy& operator=(const heavy&) = default;
    heavy& operator=(heavy&& o) {
      s = std::move(o.s);
      return *this;
    }
    bool operator==(const heavy&) const = default;
  };
  instadump::pmap<int, heavy> m;
  std::map<int, heavy> model;
  auto t = m.transient();
  for (int i = 0; i < 5000; ++i) {
    int k = (i * 37) % 1500;
    if (i % 5 == 0) {
      t.erase(k);
      model.erase(k);
    } else {
      t.set(k, heavy(std::to_string(i)));
      model.insert_or_assign(k, heavy(std::to_string(i)));
    }
  }
  m = std::move(t).persistent();
  CHECK(instadump::detail::pmap_access<int, heavy>::check(m) == "");
  CHECK(m.size() == model.size());
  for (const auto& [k, v] : model) CHECK((m.find(k) && *m.find(k) == v));
  instadump::pvector<heavy> v;
  for (int i = 0; i < 100; ++i) v = std::move(v).push_back(heavy(std::to_string(i)));
  v = std::move(v).set(3, heavy("x"));
  CHECK(v[3].s == "x");
  CHECK(v[99].s == "99");
}

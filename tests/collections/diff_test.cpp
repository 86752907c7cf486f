// btree_diff: the entries by which two versions of a pmap or pset differ are
// exactly those a comparison of their contents finds (property tests against
// std::map / std::set), whatever the two versions share: one derived from
// the other by a few or by many changes, trees of different heights,
// unrelated trees, and the same tree. A limit stops the walk early.
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <cstdint>
#include <map>
#include <set>
#include <utility>
#include <vector>

import instadump;

namespace {

using map_t = instadump::pmap<std::int64_t, std::int64_t>;
using set_t = instadump::pset<std::int64_t>;
using map_diff = instadump::detail::btree_diff<instadump::detail::pmap_access<std::int64_t, std::int64_t>>;
using set_diff = instadump::detail::btree_diff<instadump::detail::pset_access<std::int64_t>>;
using map_access = instadump::detail::pmap_access<std::int64_t, std::int64_t>;
using set_access = instadump::detail::pset_access<std::int64_t>;

struct map_changes {
  std::map<std::int64_t, std::int64_t> set;
  std::set<std::int64_t> erased;
  bool operator==(const map_changes&) const = default;
};

// What comparing the contents gives.
map_changes expected(const map_t& before, const map_t& now) {
  map_changes c;
  for (const auto& [k, v] : now) {
    const std::int64_t* old = before.find(k);
    if (!old || *old != v) c.set.emplace(k, v);
  }
  for (const auto& [k, v] : before) {
    if (!now.contains(k)) c.erased.insert(k);
  }
  return c;
}

// What the diff reports (and that it reports in key order).
map_changes diffed(const map_t& before, const map_t& now) {
  map_changes c;
  std::int64_t last_set = INT64_MIN, last_erased = INT64_MIN;
  bool ordered = true;
  const bool within = map_diff::run(
      map_access::root(before), map_access::root(now), UINT64_MAX,
      [&](std::int64_t k, std::int64_t v) {
        ordered = ordered && (c.set.empty() || k > last_set);
        last_set = k;
        c.set.emplace(k, v);
      },
      [&](std::int64_t k) {
        ordered = ordered && (c.erased.empty() || k > last_erased);
        last_erased = k;
        c.erased.insert(k);
      });
  RC_ASSERT(within);
  RC_ASSERT(ordered);
  return c;
}

map_t changed_by(map_t m, const std::vector<std::pair<std::int64_t, std::int64_t>>& ops) {
  auto t = std::move(m).transient();
  for (const auto& [k, v] : ops) {
    if (v < 0) {
      t.erase(k);
    } else {
      t.set(k, v);
    }
  }
  return std::move(t).persistent();
}

map_t range_map(std::int64_t n) {
  auto t = map_t().transient();
  for (std::int64_t i = 0; i < n; ++i) t.set(i * 2, i);
  return std::move(t).persistent();
}

}  // namespace

TEST_CASE("btree_diff of a map and a version derived from it reports what comparing contents reports",
          "[collections][diff]") {
  rc::prop("derived by random sets and erasures", [] {
    const auto size = *rc::gen::inRange<std::int64_t>(0, 5'000);
    const map_t before = range_map(size);
    const auto ops = *rc::gen::container<std::vector<std::pair<std::int64_t, std::int64_t>>>(
        rc::gen::pair(rc::gen::inRange<std::int64_t>(0, 2 * size + 100), rc::gen::inRange<std::int64_t>(-3, 50)));
    const map_t now = changed_by(before, ops);
    RC_ASSERT(diffed(before, now) == expected(before, now));
    RC_ASSERT(diffed(now, before) == expected(now, before));
  });
}

TEST_CASE("btree_diff of unrelated maps, maps of different heights, and a map with itself", "[collections][diff]") {
  const map_t big = range_map(20'000);
  const map_t small = changed_by(range_map(30), {{5, 99}, {7, -1}});
  CHECK(diffed(big, small) == expected(big, small));
  CHECK(diffed(small, big) == expected(small, big));
  CHECK(diffed(big, map_t{}) == expected(big, map_t{}));
  CHECK(diffed(map_t{}, big) == expected(map_t{}, big));
  CHECK(diffed(big, big) == map_changes{});
  // Built separately, equal contents: no node shared, nothing reported.
  CHECK(diffed(big, range_map(20'000)) == map_changes{});
  // A run of erasures that merges and shrinks nodes, and growth that splits them.
  std::vector<std::pair<std::int64_t, std::int64_t>> ops;
  for (std::int64_t k = 1'000; k < 30'000; k += 2) ops.emplace_back(k, -1);
  for (std::int64_t k = 40'001; k < 41'000; k += 2) ops.emplace_back(k, 1);
  const map_t reshaped = changed_by(big, ops);
  CHECK(diffed(big, reshaped) == expected(big, reshaped));
}

TEST_CASE("btree_diff stops once more entries than its limit differ", "[collections][diff]") {
  const map_t before = range_map(10'000);
  std::vector<std::pair<std::int64_t, std::int64_t>> ops;
  for (std::int64_t k = 0; k < 200; ++k) ops.emplace_back(k * 90, 7);
  const map_t now = changed_by(before, ops);
  int reported = 0;
  auto count = [&](auto&&...) { ++reported; };
  CHECK(map_diff::run(map_access::root(before), map_access::root(now), 200, count, count));
  CHECK(reported == 200);
  reported = 0;
  CHECK_FALSE(map_diff::run(map_access::root(before), map_access::root(now), 199, count, count));
  CHECK(reported == 199);
}

TEST_CASE("btree_diff of sets reports inserted and erased keys", "[collections][diff]") {
  rc::prop("random inserts and erasures", [] {
    const auto keys = *rc::gen::container<std::set<std::int64_t>>(rc::gen::inRange<std::int64_t>(0, 20'000));
    const set_t before = set_t::from_sorted(keys.begin(), keys.end());
    const auto ops = *rc::gen::container<std::vector<std::int64_t>>(rc::gen::inRange<std::int64_t>(-20'000, 20'000));
    auto t = before.transient();
    for (std::int64_t k : ops) {
      if (k < 0) {
        t.erase(-k);
      } else {
        t.insert(k);
      }
    }
    const set_t now = std::move(t).persistent();
    std::set<std::int64_t> inserted, erased;
    RC_ASSERT(set_diff::run(
        set_access::root(before), set_access::root(now), UINT64_MAX, [&](std::int64_t k) { inserted.insert(k); },
        [&](std::int64_t k) { erased.insert(k); }));
    std::set<std::int64_t> want_inserted, want_erased;
    for (std::int64_t k : now) {
      if (!before.contains(k)) want_inserted.insert(k);
    }
    for (std::int64_t k : before) {
      if (!now.contains(k)) want_erased.insert(k);
    }
    RC_ASSERT(inserted == want_inserted);
    RC_ASSERT(erased == want_erased);
  });
}

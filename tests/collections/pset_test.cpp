// pset against std::set: random operation sequences (rapidcheck) on sets of
// tiny nodes, old versions unchanged, transients, bounds and ranges.
#include <rapidcheck/catch.h>

#include <cstdint>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

import instadump;
#include "small_nodes.h"

namespace {

using collections_test::tiny;
using set_t = instadump::pset<tiny>;
using model_t = std::set<tiny>;
using access = instadump::detail::pset_access<tiny>;

void require_same(const set_t& s, const model_t& model) {
  RC_ASSERT(access::check(s) == "");
  RC_ASSERT(s.size() == model.size());
  RC_ASSERT(s.empty() == model.empty());
  RC_ASSERT(std::vector<tiny>(s.begin(), s.end()) == std::vector<tiny>(model.begin(), model.end()));
}

void require_same_lookups(const set_t& s, const model_t& model, tiny key) {
  RC_ASSERT(s.contains(key) == model.contains(key));
  auto lower = s.lower_bound(key);
  RC_ASSERT((lower == s.end()) == (model.lower_bound(key) == model.end()));
  if (lower != s.end()) RC_ASSERT(*lower == *model.lower_bound(key));
  auto upper = s.upper_bound(key);
  RC_ASSERT((upper == s.end()) == (model.upper_bound(key) == model.end()));
  if (upper != s.end()) RC_ASSERT(upper->v == model.upper_bound(key)->v);
  tiny to{key.v + 50};
  auto r = s.range(key, to);
  RC_ASSERT(std::vector<tiny>(r.begin(), r.end()) ==
            std::vector<tiny>(model.lower_bound(key), model.lower_bound(to)));
}

}  // namespace

TEST_CASE("pset behaves like std::set, and every old version stays as it was", "[collections][pset]") {
  rc::prop("random operations", [] {
    auto steps = *rc::gen::resize(
        300, rc::gen::container<std::vector<std::pair<int, tiny>>>(rc::gen::pair(rc::gen::inRange(0, 6), rc::gen::arbitrary<tiny>())));
    set_t s;
    model_t model;
    std::vector<std::pair<set_t, model_t>> versions;
    for (const auto& [kind, key] : steps) {
      versions.emplace_back(s, model);
      if (kind <= 1) {
        s = s.insert(key);
        model.insert(key);
      } else if (kind == 2) {
        s = s.erase(key);
        model.erase(key);
      } else if (kind == 3) {
        s = std::move(s).insert(tiny{key.v + 1}).erase(key);  // shared with versions: copies
        model.insert(tiny{key.v + 1});
        model.erase(key);
      } else if (kind == 4) {
        auto t = s.transient();
        for (const auto& [insert, k2] : *rc::gen::container<std::vector<std::pair<bool, tiny>>>(rc::gen::arbitrary<std::pair<bool, tiny>>())) {
          if (insert) {
            t.insert(k2);
            model.insert(k2);
          } else {
            t.erase(k2);
            model.erase(k2);
          }
          RC_ASSERT(t.contains(k2) == insert);
        }
        RC_ASSERT(t.size() == model.size());
        s = std::move(t).persistent();
        RC_ASSERT_THROWS_AS(t.insert(key), instadump::transient_consumed);
      } else {
        require_same_lookups(s, model, key);
      }
      require_same(s, model);
    }
    for (const auto& [old, old_model] : versions) require_same(old, old_model);
  });
}

TEST_CASE("pset from_sorted, equality, and big sets of strings with the default node sizes", "[collections][pset]") {
  rc::prop("from_sorted of any std::set equals the set built by insert", [] {
    auto model = *rc::gen::resize(500, rc::gen::arbitrary<model_t>());
    set_t built = set_t::from_sorted(model.begin(), model.end());
    set_t stepwise;
    for (const tiny& k : model) stepwise = stepwise.insert(k);
    require_same(built, model);
    RC_ASSERT(built == stepwise);
    if (!model.empty()) RC_ASSERT(!(built == stepwise.erase(*model.begin())));
  });
  instadump::pset<std::string> big;
  std::set<std::string> model;
  auto t = big.transient();
  for (int i = 0; i < 50'000; ++i) {
    std::string k = std::to_string(i * 7919 % 100'003);
    t.insert(k);
    model.insert(k);
  }
  big = std::move(t).persistent();
  CHECK(instadump::detail::pset_access<std::string>::check(big) == "");
  CHECK(std::vector<std::string>(big.begin(), big.end()) == std::vector<std::string>(model.begin(), model.end()));
  auto smaller = big.erase("0").erase(std::to_string(7919));
  CHECK(smaller.size() == big.size() - 2);
  CHECK(big.contains("0"));
  CHECK(!smaller.contains("0"));
  CHECK(instadump::pset<int>{3, 1, 2, 3} == instadump::pset<int>{1, 2, 3});
}

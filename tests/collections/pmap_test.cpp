// pmap against std::map: random operation sequences (rapidcheck) on maps of
// tiny nodes, so that splits, merges and borrowing happen at every level;
// every version stays as it was after later changes; transients and rvalue
// changes in place; lookups, bounds and ranges; and big maps with the
// default node sizes.
#include <rapidcheck/catch.h>

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

import instadump;
#include "small_nodes.h"

namespace {

using collections_test::tiny;
using map_t = instadump::pmap<tiny, int>;
using model_t = std::map<tiny, int>;
using access = instadump::detail::pmap_access<tiny, int>;
using step = std::tuple<int, tiny, int>;

// The map has the model's entries, in order, and a valid tree.
template <class Map, class Model>
void require_same(const Map& m, const Model& model) {
  using checked = instadump::detail::pmap_access<typename Model::key_type, typename Model::mapped_type>;
  RC_ASSERT(checked::check(m) == "");
  RC_ASSERT(m.size() == model.size());
  RC_ASSERT(m.empty() == model.empty());
  auto it = model.begin();
  for (const auto& [k, v] : m) {
    RC_ASSERT(it != model.end());
    RC_ASSERT(k == it->first);
    RC_ASSERT(v == it->second);
    ++it;
  }
  RC_ASSERT(it == model.end());
}

// Every lookup of `key` answers as the model does.
void require_same_lookups(const map_t& m, const model_t& model, tiny key) {
  auto found = model.find(key);
  const int* v = m.find(key);
  RC_ASSERT((v != nullptr) == (found != model.end()));
  RC_ASSERT(m.contains(key) == (found != model.end()));
  if (v) {
    RC_ASSERT(*v == found->second);
    RC_ASSERT(m.at(key) == found->second);
  } else {
    RC_ASSERT_THROWS_AS(m.at(key), instadump::key_not_found);
  }
  auto lower = m.lower_bound(key);
  auto model_lower = model.lower_bound(key);
  RC_ASSERT((lower == m.end()) == (model_lower == model.end()));
  if (model_lower != model.end()) RC_ASSERT(lower->first == model_lower->first);
  auto upper = m.upper_bound(key);
  auto model_upper = model.upper_bound(key);
  RC_ASSERT((upper == m.end()) == (model_upper == model.end()));
  if (model_upper != model.end()) RC_ASSERT((*upper).first == model_upper->first);
  tiny to{key.v + 37};
  std::vector<std::pair<tiny, int>> in_range, model_in_range(model.lower_bound(key), model.lower_bound(to));
  for (const auto& [k, x] : m.range(key, to)) in_range.emplace_back(k, x);
  RC_ASSERT(in_range == model_in_range);
  RC_ASSERT(m.range(to, key).begin() == m.range(to, key).end());
}

// One step of a random sequence, applied to the map and the model.
void apply(map_t& m, model_t& model, const step& s) {
  auto [kind, key, value] = s;
  switch (kind % 8) {
    case 0:
    case 1:
    case 2:
      m = m.set(key, value);
      model[key] = value;
      break;
    case 3:
    case 4:
      m = m.erase(key);
      model.erase(key);
      break;
    case 5:
      m = m.update(key, [](int x) { return x + 1; });
      model[key] += 1;
      break;
    case 6: {  // a batch through a transient
      auto t = m.transient();
      auto batch = *rc::gen::container<std::vector<step>>(rc::gen::tuple(
          rc::gen::inRange(0, 3), rc::gen::arbitrary<tiny>(), rc::gen::inRange(0, 1000)));
      for (const auto& [k2, key2, value2] : batch) {
        if (k2 == 0) {
          t.set(key2, value2);
          model[key2] = value2;
        } else if (k2 == 1) {
          t.erase(key2);
          model.erase(key2);
        } else {
          t.update(key2, [](int x) { return x % 1000 * 2; });
          model[key2] = model[key2] % 1000 * 2;
        }
        RC_ASSERT(t.size() == model.size());
        RC_ASSERT(t.contains(key2) == model.contains(key2));
      }
      m = std::move(t).persistent();
      RC_ASSERT_THROWS_AS(t.set(key, value), instadump::transient_consumed);
      RC_ASSERT_THROWS_AS((void)std::move(t).persistent(), instadump::transient_consumed);
      break;
    }
    default:
      require_same_lookups(m, model, key);
  }
}

}  // namespace

TEST_CASE("pmap behaves like std::map, and every old version stays as it was", "[collections][pmap]") {
  rc::prop("random operations", [] {
    auto steps = *rc::gen::resize(300, rc::gen::container<std::vector<step>>(rc::gen::tuple(
        rc::gen::inRange(0, 8), rc::gen::arbitrary<tiny>(), rc::gen::inRange(0, 1000))));
    map_t m;
    model_t model;
    std::vector<std::pair<map_t, model_t>> versions;
    for (const step& s : steps) {
      versions.emplace_back(m, model);
      apply(m, model, s);
      require_same(m, model);
    }
    for (const auto& [old, old_model] : versions) require_same(old, old_model);
  });
}

TEST_CASE("a pmap changed as an rvalue it alone holds is changed in place and stays right", "[collections][pmap]") {
  rc::prop("random rvalue operations", [] {
    auto steps = *rc::gen::resize(300, rc::gen::container<std::vector<step>>(rc::gen::tuple(
        rc::gen::inRange(0, 3), rc::gen::arbitrary<tiny>(), rc::gen::inRange(0, 1000))));
    map_t m;
    model_t model;
    for (const auto& [kind, key, value] : steps) {
      if (kind == 0) {
        m = std::move(m).erase(key);
        model.erase(key);
      } else if (kind == 1) {
        m = std::move(m).update(key, [](int x) { return x - 3; });
        model[key] -= 3;
      } else {
        m = std::move(m).set(key, value);
        model[key] = value;
      }
      require_same(m, model);
    }
  });
}

TEST_CASE("pmap equality compares entries, and from_sorted builds valid full trees", "[collections][pmap]") {
  rc::prop("from_sorted of any std::map equals the map built by set", [] {
    auto model = *rc::gen::resize(500, rc::gen::arbitrary<model_t>());
    map_t built = map_t::from_sorted(model.begin(), model.end());
    map_t stepwise;
    for (const auto& [k, v] : model) stepwise = stepwise.set(k, v);
    require_same(built, model);
    RC_ASSERT(built == stepwise);
    if (!model.empty()) {
      RC_ASSERT(!(built == stepwise.set(model.begin()->first, model.begin()->second ^ 1)));
      RC_ASSERT(!(built == stepwise.erase(model.begin()->first)));
    }
  });
  std::vector<std::pair<tiny, int>> unsorted{{tiny{1}, 1}, {tiny{3}, 3}, {tiny{3}, 4}};
  CHECK_THROWS_WITH(map_t::from_sorted(unsorted.begin(), unsorted.end()),
                    Catch::Contains("entry 2") && Catch::Contains("strictly increasing"));
}

TEST_CASE("pmap of strings with the default node sizes crosses several levels and matches std::map",
          "[collections][pmap]") {
  std::mt19937_64 rng(7);
  instadump::pmap<std::string, std::string> m;
  std::map<std::string, std::string> model;
  auto old = m;
  auto old_model = model;
  auto t = m.transient();
  for (int i = 0; i < 60'000; ++i) {
    std::string k = "key-" + std::to_string(rng() % 80'000);
    if (rng() % 4 == 0) {
      t.erase(k);
      model.erase(k);
    } else {
      t.set(k, "value-" + std::to_string(i));
      model[k] = "value-" + std::to_string(i);
    }
    if (i == 30'000) {  // keep a version in the middle; the transient goes on
      old = std::move(t).persistent();
      old_model = model;
      t = old.transient();
    }
  }
  m = std::move(t).persistent();
  REQUIRE(instadump::detail::pmap_access<std::string, std::string>::root(m)->height >= 2);
  REQUIRE_NOTHROW(require_same(m, model));
  REQUIRE_NOTHROW(require_same(old, old_model));
  for (int i = 0; i < 2'000; ++i) {  // path copies from a big shared tree
    std::string k = "key-" + std::to_string(rng() % 80'000);
    auto next = m.set(k, "x").erase("key-" + std::to_string(rng() % 80'000));
    CHECK(*next.find(k) == "x");
  }
  REQUIRE_NOTHROW(require_same(m, model));
  CHECK_THROWS_WITH(m.at("absent"), Catch::Contains("\"absent\"") && Catch::Contains("pmap::at()"));
}

TEST_CASE("pmap nests, and works as the value of a ref", "[collections][pmap]") {
  instadump::pmap<std::int64_t, instadump::pvector<std::string>> nested;
  nested = nested.set(1, instadump::pvector<std::string>{"a", "b"});
  nested = nested.update(1, [](const auto& v) { return v.push_back("c"); });
  nested = nested.update(2, [](const auto& v) { return v.push_back("z"); });
  REQUIRE(nested.at(1).size() == 3);
  CHECK(nested.at(1)[2] == "c");
  CHECK(nested.at(2)[0] == "z");

  instadump::ref<instadump::pmap<std::int64_t, std::string>> r;
  instadump::dosync([&] { r.alter([](const auto& m) { return m.set(5, "five"); }); });
  instadump::dosync([&] { r.commute([](const auto& m) { return m.update(6, [](const std::string& s) { return s + "!"; }); }); });
  CHECK(*r.deref().find(5) == "five");
  CHECK(r.deref().at(6) == "!");
  CHECK(r.deref().find(7) == nullptr);
}

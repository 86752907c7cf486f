// pvector against std::vector: random operation sequences (rapidcheck) on
// vectors of width 4, so that the trie grows and shrinks through several
// levels; old versions unchanged; transients and rvalue changes in place;
// errors for bad indexes.
#include <rapidcheck/catch.h>

#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

import instadump;
#include "small_nodes.h"

namespace {

using collections_test::tiny;
using vec_t = instadump::pvector<tiny>;
using model_t = std::vector<tiny>;
using access = instadump::detail::pvector_access<tiny>;

template <class Vec, class Model>
void require_same(const Vec& v, const Model& model) {
  RC_ASSERT(instadump::detail::pvector_access<typename Model::value_type>::check(v) == "");
  RC_ASSERT(v.size() == model.size());
  RC_ASSERT(v.empty() == model.empty());
  RC_ASSERT(Model(v.begin(), v.end()) == model);
  for (std::size_t i = 0; i < model.size(); ++i) RC_ASSERT(v[i] == model[i]);
}

// pvector's changes return new values; these give change() one spelling
// for a vector (by copying it, or as an rvalue it alone holds) and a
// transient.
struct copying_vector {
  vec_t& v;
  void push_back(tiny x) { v = v.push_back(x); }
  void pop_back() { v = v.pop_back(); }
  void set(std::uint64_t i, tiny x) { v = v.set(i, x); }
};
struct rvalue_vector {
  vec_t v;
  void push_back(tiny x) { v = std::move(v).push_back(x); }
  void pop_back() { v = std::move(v).pop_back(); }
  void set(std::uint64_t i, tiny x) { v = std::move(v).set(i, x); }
};

// One change of `target` (see above, or a transient_pvector) and the model.
template <class Target>
void change(Target& target, model_t& model, int kind, std::uint64_t index, tiny x) {
  if (kind <= 2) {
    target.push_back(x);
    model.push_back(x);
  } else if (kind == 3) {
    if (model.empty()) {
      RC_ASSERT_THROWS_AS(target.pop_back(), instadump::index_out_of_range);
    } else {
      target.pop_back();
      model.pop_back();
    }
  } else if (index >= model.size()) {
    RC_ASSERT_THROWS_AS(target.set(index, x), instadump::index_out_of_range);
  } else {
    target.set(index, x);
    model[index] = x;
  }
}

using step = std::tuple<int, std::uint64_t, tiny>;

}  // namespace

TEST_CASE("pvector behaves like std::vector, and every old version stays as it was", "[collections][pvector]") {
  rc::prop("random operations", [] {
    auto steps = *rc::gen::resize(400, rc::gen::container<std::vector<step>>(rc::gen::tuple(
        rc::gen::inRange(0, 7), rc::gen::inRange<std::uint64_t>(0, 300), rc::gen::arbitrary<tiny>())));
    vec_t v;
    model_t model;
    std::vector<std::pair<vec_t, model_t>> versions;
    for (const auto& [kind, index, x] : steps) {
      versions.emplace_back(v, model);
      if (kind < 5) {  // on a shared value: copies
        copying_vector target{v};
        change(target, model, kind, index, x);
      } else if (kind == 5) {  // in place through a transient
        auto t = v.transient();
        auto batch = *rc::gen::container<std::vector<step>>(rc::gen::tuple(
            rc::gen::inRange(0, 5), rc::gen::inRange<std::uint64_t>(0, 300), rc::gen::arbitrary<tiny>()));
        for (const auto& [k2, i2, x2] : batch) {
          change(t, model, k2, i2, x2);
          RC_ASSERT(t.size() == model.size());
          if (!model.empty()) RC_ASSERT(t[model.size() - 1] == model.back());
        }
        v = std::move(t).persistent();
        RC_ASSERT_THROWS_AS(t.push_back(x), instadump::transient_consumed);
      } else {
        if (index < model.size()) {
          RC_ASSERT(v.at(index) == model[index]);
        } else {
          RC_ASSERT_THROWS_AS(v.at(index), instadump::index_out_of_range);
        }
      }
      require_same(v, model);
    }
    for (const auto& [old, old_model] : versions) require_same(old, old_model);
  });
}

TEST_CASE("a pvector changed as an rvalue it alone holds is changed in place and stays right", "[collections][pvector]") {
  rc::prop("random rvalue operations", [] {
    auto steps = *rc::gen::resize(400, rc::gen::container<std::vector<step>>(rc::gen::tuple(
        rc::gen::inRange(0, 5), rc::gen::inRange<std::uint64_t>(0, 300), rc::gen::arbitrary<tiny>())));
    rvalue_vector r;
    model_t model;
    for (const auto& [kind, index, x] : steps) {
      change(r, model, kind, index, x);
      require_same(r.v, model);
    }
  });
}

TEST_CASE("a big pvector of strings grows and shrinks through every level", "[collections][pvector]") {
  instadump::pvector<std::string> v;
  std::vector<std::string> model;
  auto t = v.transient();
  for (int i = 0; i < 40'000; ++i) {
    t.push_back(std::to_string(i));
    model.push_back(std::to_string(i));
  }
  v = std::move(t).persistent();
  REQUIRE_NOTHROW(require_same(v, model));
  REQUIRE(instadump::detail::pvector_access<std::string>::root(v)->height == 3);  // 32^3 < 40,000
  auto changed = v.set(12'345, "x").set(39'999, "y").push_back("z");
  CHECK(changed[12'345] == "x");
  CHECK(changed.back() == "z");
  CHECK(v[12'345] == "12345");
  CHECK(!(changed == v));
  CHECK(v == instadump::pvector<std::string>(model.begin(), model.end()));
  auto shrinking = v;
  while (!model.empty()) {
    shrinking = shrinking.pop_back();
    model.pop_back();
    if (model.size() % 997 == 0 || model.size() < 70) REQUIRE_NOTHROW(require_same(shrinking, model));
  }
  CHECK(shrinking.empty());
  CHECK_THROWS_WITH(shrinking.pop_back(), Catch::Contains("pvector::pop_back()"));
  CHECK_THROWS_WITH(v.at(40'000), Catch::Contains("index 40000") && Catch::Contains("40000 elements"));
}

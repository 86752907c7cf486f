// The persistence layer's access API: visiting nodes and rebuilding them
// gives an equal collection, stored tags survive sharing and are cleared by
// changes in place, and malformed input is rejected with corrupt_data.
#include <rapidcheck/catch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

import instadump;
#include "small_nodes.h"

namespace {

using collections_test::tiny;
using map_t = instadump::pmap<tiny, int>;
using map_access = instadump::detail::pmap_access<tiny, int>;
using node = instadump::detail::node_header;
using node_ref = map_access::node_ref;

// A stored copy of the subtree: what a loader would build from the chunks.
template <class A>
typename A::node_ref rebuild(const node* n) {
  if (A::is_leaf(n)) {
    typename A::leaf_builder b;
    auto keys = A::keys(n);
    for (std::size_t i = 0; i < keys.size(); ++i) b.add(keys[i], A::values(n)[i]);
    return std::move(b).finish();
  }
  std::vector<typename A::node_ref> children;
  for (std::size_t i = 0; i < A::count(n); ++i) children.push_back(rebuild<A>(A::child(n, i)));
  return A::make_branch(children);
}

// What a save does: writes (counts) every node without a tag, children
// first, and tags it. Returns the number of nodes written.
template <class A>
int save(const node* n, std::uint64_t& next_tag) {
  if (!n || A::stored_tag(n) != 0) return 0;
  int written = 1;
  if (!A::is_leaf(n)) {
    for (std::size_t i = 0; i < A::count(n); ++i) written += save<A>(A::child(n, i), next_tag);
  }
  A::set_stored_tag(n, next_tag++);
  return written;
}

map_t map_of(int n, int step = 1) {
  std::map<tiny, int> m;
  for (int i = 0; i < n; ++i) m[tiny{i * step}] = i;
  return map_t::from_sorted(m.begin(), m.end());
}

node_ref leaf_of(std::vector<std::int64_t> keys) {
  std::vector<tiny> k;
  for (auto v : keys) k.push_back(tiny{v});
  std::vector<int> values(k.size(), 0);
  return map_access::make_leaf(k, values);
}

}  // namespace

TEST_CASE("visiting a pmap's nodes and building them again gives an equal map", "[collections][access]") {
  rc::prop("round trip", [] {
    auto model = *rc::gen::resize(400, rc::gen::arbitrary<std::map<tiny, int>>());
    map_t m;
    for (const auto& [k, v] : model) m = m.set(k, v);  // not from_sorted: nodes of any fill
    map_t back = map_access::assemble(map_access::root(m) ? rebuild<map_access>(map_access::root(m)) : node_ref(), m.size());
    RC_ASSERT(map_access::check(back) == "");
    RC_ASSERT(back == m);
    RC_ASSERT(back.size() == model.size());
  });
  auto s = instadump::pset<std::string>{"a", "b", "c"};
  using set_access = instadump::detail::pset_access<std::string>;
  set_access::leaf_builder b;
  for (const auto& k : set_access::keys(set_access::root(s))) b.add(k);
  CHECK(set_access::assemble(std::move(b).finish(), 3) == s);
}

TEST_CASE("stored tags survive sharing, and only changed nodes lose them", "[collections][access]") {
  map_t m = map_of(1000);
  std::uint64_t tag = 1;
  int all = save<map_access>(map_access::root(m), tag);
  CHECK(all > 300);
  CHECK(save<map_access>(map_access::root(m), tag) == 0);  // everything is stored

  std::size_t path = map_access::height(map_access::root(m)) + 1;
  map_t changed = m.set(tiny{500}, -1);
  CHECK(save<map_access>(map_access::root(changed), tag) == static_cast<int>(path));  // the new path only
  CHECK(save<map_access>(map_access::root(m), tag) == 0);                             // the old map is as stored

  map_t grown = changed.set(tiny{5000}, 1).erase(tiny{3});
  int written = save<map_access>(map_access::root(grown), tag);
  CHECK(written >= static_cast<int>(path));
  CHECK(written <= static_cast<int>(4 * path));  // two paths, a split and a merge at most

  // A transient copies the shared path once, then changes its copy in place:
  // the copy's nodes have tag 0 until saved, the shared ones keep theirs.
  auto t = grown.transient();
  t.set(tiny{501}, 7);
  map_t after = std::move(t).persistent();
  CHECK(save<map_access>(map_access::root(after), tag) >= 1);
  auto t2 = std::move(after).transient();  // alone: changes in place
  t2.set(tiny{501}, 8);
  after = std::move(t2).persistent();
  CHECK(save<map_access>(map_access::root(after), tag) == static_cast<int>(path));  // the path changed in place
  CHECK(save<map_access>(map_access::root(grown), tag) == 0);

  // pvector: root and tail are saved alike; a push_back writes the tail
  // only, a set() in the trie the path to its leaf.
  using vec_access = instadump::detail::pvector_access<tiny>;
  instadump::pvector<tiny> v;
  for (int i = 0; i < 1001; ++i) v = v.push_back(tiny{i});  // a tail of 1 of 4
  auto save_vector = [&](const instadump::pvector<tiny>& x) {
    return save<vec_access>(vec_access::root(x), tag) + save<vec_access>(vec_access::tail(x), tag);
  };
  CHECK(save_vector(v) > 250);
  CHECK(save_vector(v.push_back(tiny{-1})) == 1);
  CHECK(save_vector(v.set(10, tiny{-1})) == static_cast<int>(vec_access::height(vec_access::root(v)) + 1));
  CHECK(save_vector(v) == 0);
}

TEST_CASE("malformed pmap nodes are rejected with corrupt_data naming the problem", "[collections][access]") {
  using instadump::corrupt_data;
  using Catch::Contains;
  CHECK_THROWS_AS(leaf_of({}), corrupt_data);
  CHECK_THROWS_WITH(leaf_of({1, 3, 2}), Contains("not strictly increasing"));
  CHECK_THROWS_WITH(leaf_of({1, 1}), Contains("not strictly increasing"));
  CHECK_THROWS_WITH(leaf_of({1, 2, 3, 4, 5}), Contains("5 entries") && Contains("1 to 4"));
  std::vector<tiny> keys{tiny{1}, tiny{2}};
  std::vector<int> values{1};
  CHECK_THROWS_WITH(map_access::make_leaf(keys, values), Contains("2 keys but 1 values"));
  map_access::leaf_builder b;
  b.add(tiny{5}, 0);
  CHECK_THROWS_WITH(b.add(tiny{4}, 0), Contains("not strictly increasing"));
  CHECK_THROWS_WITH(std::move(map_access::leaf_builder()).finish(), Contains("no entries"));

  std::vector<node_ref> one{leaf_of({1, 2})};
  CHECK_THROWS_WITH(map_access::make_branch(one), Contains("1 children"));
  std::vector<node_ref> five{leaf_of({1, 2}), leaf_of({3, 4}), leaf_of({5, 6}), leaf_of({7, 8}), leaf_of({9, 10})};
  CHECK_THROWS_WITH(map_access::make_branch(five), Contains("5 children"));
  std::vector<node_ref> underfull{leaf_of({1, 2}), leaf_of({3})};
  CHECK_THROWS_WITH(map_access::make_branch(underfull), Contains("at least 2"));
  std::vector<node_ref> overlapping{leaf_of({1, 5}), leaf_of({3, 7})};
  CHECK_THROWS_WITH(map_access::make_branch(overlapping), Contains("not above"));
  std::vector<node_ref> same_leaf_twice{leaf_of({1, 2}), node_ref()};
  same_leaf_twice[1] = same_leaf_twice[0];
  CHECK_THROWS_WITH(map_access::make_branch(same_leaf_twice), Contains("not above"));
  std::vector<node_ref> missing{leaf_of({1, 2}), node_ref()};
  CHECK_THROWS_WITH(map_access::make_branch(missing), Contains("missing child"));
  std::vector<node_ref> low{leaf_of({1, 2}), leaf_of({3, 4})};
  std::vector<node_ref> mixed{map_access::make_branch(low), leaf_of({5, 6})};
  CHECK_THROWS_WITH(map_access::make_branch(mixed), Contains("different heights"));

  std::vector<node_ref> good{leaf_of({1, 2}), leaf_of({3, 4, 5})};
  node_ref root = map_access::make_branch(good);
  CHECK_THROWS_WITH(map_access::assemble(root, 4), Contains("claims 4 entries") && Contains("hold 5"));
  CHECK_THROWS_WITH(map_access::assemble(node_ref(), 1), Contains("no root"));
  map_t ok = map_access::assemble(root, 5);
  CHECK(map_access::check(ok) == "");
  CHECK(ok.size() == 5);
  CHECK(*ok.find(tiny{4}) == 0);

  map_access::bulk_builder bulk;
  bulk.add(tiny{1}, 1);
  CHECK_THROWS_WITH(bulk.add(tiny{1}, 2), Contains("not strictly increasing"));
}

TEST_CASE("pvector nodes: round trip, and malformed input rejected", "[collections][access]") {
  using vaccess = instadump::detail::pvector_access<tiny>;
  using vnode_ref = vaccess::node_ref;
  using instadump::corrupt_data;
  using Catch::Contains;
  auto leaf = [](std::vector<std::int64_t> items) {
    std::vector<tiny> t;
    for (auto v : items) t.push_back(tiny{v});
    return vaccess::make_leaf(t);
  };
  std::function<vnode_ref(const node*)> copy = [&](const node* n) -> vnode_ref {
    if (vaccess::is_leaf(n)) {
      auto items = vaccess::items(n);
      return vaccess::make_leaf(items);
    }
    std::vector<vnode_ref> children;
    for (std::size_t i = 0; i < vaccess::count(n); ++i) children.push_back(copy(vaccess::child(n, i)));
    return vaccess::make_branch(children);
  };
  for (int n : {0, 1, 4, 5, 16, 17, 21, 64, 65, 100, 257}) {
    instadump::pvector<tiny> v;
    for (int i = 0; i < n; ++i) v = v.push_back(tiny{i});
    auto back = vaccess::assemble(vaccess::root(v) ? copy(vaccess::root(v)) : vnode_ref(),
                                  vaccess::tail(v) ? copy(vaccess::tail(v)) : vnode_ref(), v.size());
    CHECK(vaccess::check(back) == "");
    CHECK(back == v);
  }

  CHECK_THROWS_WITH(leaf({}), Contains("no elements"));
  CHECK_THROWS_WITH(leaf({1, 2, 3, 4, 5}), Contains("more than 4"));
  std::vector<vnode_ref> not_full{leaf({1, 2, 3}), leaf({1, 2, 3, 4})};
  CHECK_THROWS_WITH(vaccess::make_branch(not_full), Contains("child 0") && Contains("not full"));
  std::vector<vnode_ref> full{leaf({1, 2, 3, 4}), leaf({5, 6, 7, 8})};
  std::vector<vnode_ref> mixed{leaf({1, 2, 3, 4}), vaccess::make_branch(full)};
  CHECK_THROWS_WITH(vaccess::make_branch(mixed), Contains("different heights"));
  std::vector<vnode_ref> none;
  CHECK_THROWS_WITH(vaccess::make_branch(none), Contains("0 children"));

  vnode_ref trie = vaccess::make_branch(full);
  CHECK_THROWS_WITH(vaccess::assemble(trie, leaf({9}), 10), Contains("holds 8 elements instead of 9"));
  CHECK_THROWS_WITH(vaccess::assemble(trie, vnode_ref(), 8), Contains("no tail"));
  CHECK_THROWS_WITH(vaccess::assemble(leaf({1, 2}), leaf({3}), 3), Contains("not full"));
  std::vector<vnode_ref> single{leaf({1, 2, 3, 4})};
  CHECK_THROWS_WITH(vaccess::assemble(vaccess::make_branch(single), leaf({5}), 5), Contains("one child"));
  CHECK_THROWS_WITH(vaccess::assemble(vnode_ref(), leaf({1, 2}), 3), Contains("no trie"));
  auto ok = vaccess::assemble(trie, leaf({9}), 9);
  CHECK(ok.size() == 9);
  CHECK(ok[8].v == 9);
  CHECK(ok[4].v == 5);
}

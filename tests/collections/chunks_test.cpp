// Collections saved as one chunk per node (a B+-tree's lowest branches with
// their leaves as one group) and built back (collection_chunks):
// against an in-memory chunk store, a save after a small change writes only
// the changed path; the safety rule writes again every tagged node that is
// not at the same place in the previous value (or is of another epoch); a
// load gives an equal, well-formed collection whose nodes carry their chunk
// ids; damaged chunks (cycles, wrong sizes, bad leaves) throw corrupt_data.
#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

import instadump;

namespace {

using instadump::detail::chunk_tags;
using node = instadump::detail::node_header;

// One chunk of the in-memory store: a leaf's or a leaf group's entries, or
// a branch's children.
template <class K, class V>
struct chunk {
  bool group = false;
  std::vector<K> keys;
  std::vector<V> values;
  std::vector<std::uint64_t> children;
  std::vector<std::uint64_t> sizes;
};

// The store side of a save and a load, in memory: chunks by id, the ids a
// save wrote and the (node, id) pairs it tags once "committed".
template <class Access, class K, class V>
struct memory_store {
  std::map<std::uint64_t, chunk<K, V>> chunks;
  std::uint64_t next_id = 1;
  std::vector<std::pair<const node*, std::uint64_t>> written;  // by the current save

  std::uint64_t add(const node* n, chunk<K, V> c) {
    std::uint64_t id = next_id++;
    chunks[id] = std::move(c);
    written.emplace_back(n, id);
    return id;
  }
  // The Writer of a save.
  std::uint64_t leaf(const node* n) {
    chunk<K, V> c;
    if constexpr (requires { Access::items(n); }) {
      auto items = Access::items(n);
      c.values.assign(items.begin(), items.end());
    } else {
      auto keys = Access::keys(n);
      c.keys.assign(keys.begin(), keys.end());
      if constexpr (requires { Access::values(n); }) {
        auto values = Access::values(n);
        c.values.assign(values.begin(), values.end());
      }
    }
    return add(n, std::move(c));
  }
  std::uint64_t group(const node* n) {
    chunk<K, V> c;
    c.group = true;
    collect(n, c);
    return add(n, std::move(c));
  }
  static void collect(const node* n, chunk<K, V>& c) {
    if (!Access::is_leaf(n)) {
      for (std::size_t i = 0; i < Access::count(n); ++i) collect(Access::child(n, i), c);
      return;
    }
    auto keys = Access::keys(n);
    c.keys.insert(c.keys.end(), keys.begin(), keys.end());
    if constexpr (requires { Access::values(n); }) {
      auto values = Access::values(n);
      c.values.insert(c.values.end(), values.begin(), values.end());
    }
  }
  std::uint64_t branch(const node* n, std::span<const std::uint64_t> children) {
    chunk<K, V> c;
    c.children.assign(children.begin(), children.end());
    for (std::size_t i = 0; i < children.size(); ++i) c.sizes.push_back(Access::subtree_size(Access::child(n, i)));
    return add(n, std::move(c));
  }
  // After the store accepted the snapshot: tag what the save wrote.
  std::size_t commit(std::uint64_t epoch) {
    for (auto [n, id] : written) Access::set_stored_tag(n, chunk_tags::pack(epoch, id));
    std::size_t count = written.size();
    written.clear();
    return count;
  }
  // The Reader of a load.
  instadump::detail::read_node<typename Access::node_ref> read(std::uint64_t id) {
    auto it = chunks.find(id);
    if (it == chunks.end()) throw instadump::corrupt_data("no chunk " + std::to_string(id));
    const chunk<K, V>& c = it->second;
    instadump::detail::read_node<typename Access::node_ref> r;
    if constexpr (requires { Access::lowest_branch(nullptr); }) {
      if (c.group) {
        typename Access::bulk_builder whole;
        for (std::size_t i = 0; i < c.keys.size(); ++i) {
          if constexpr (requires { Access::values(nullptr); }) {
            whole.add(c.keys[i], c.values[i]);
          } else {
            whole.add(c.keys[i]);
          }
        }
        r.leaf = Access::lowest_branch(Access::root(std::move(whole).finish()));
        return r;
      }
    }
    if (!c.children.empty()) {
      r.children = c.children;
      r.sizes = c.sizes;
    } else if constexpr (requires { Access::items(nullptr); }) {
      r.leaf = Access::make_leaf(std::span<const V>(c.values));
    } else if constexpr (requires { Access::values(nullptr); }) {
      r.leaf = Access::make_leaf(std::span<const K>(c.keys), std::span<const V>(c.values));
    } else {
      r.leaf = Access::make_leaf(std::span<const K>(c.keys));
    }
    return r;
  }
};

using map_t = instadump::pmap<std::int64_t, std::int64_t>;
using map_access = instadump::detail::pmap_access<std::int64_t, std::int64_t>;
using map_chunks = instadump::detail::btree_chunks<map_access>;
using map_store = memory_store<map_access, std::int64_t, std::int64_t>;

map_t map_of(std::int64_t n) {
  auto t = map_t().transient();
  for (std::int64_t i = 0; i < n; ++i) t.set(i * 3, i);
  return std::move(t).persistent();
}

// The chunks a tree is saved as: one per node, a lowest branch's leaves
// within its own.
std::size_t chunks_in(const node* n) {
  if (map_access::height(n) <= 1) return 1;
  std::size_t count = 1;
  for (std::size_t i = 0; i < map_access::count(n); ++i) count += chunks_in(map_access::child(n, i));
  return count;
}

map_t load_map(map_store& store, std::uint64_t root, std::uint64_t size, std::uint64_t epoch) {
  return map_access::assemble(map_chunks::load(root, store, epoch), size);
}

}  // namespace

TEST_CASE("a pmap saved node by node writes only the changed path the second time", "[collections][chunks]") {
  map_store store;
  const std::uint64_t epoch = 7;
  const map_t m = map_of(100'000);
  std::uint64_t root = map_chunks::save(map_access::root(m), nullptr, epoch, store);
  CHECK(store.commit(epoch) == chunks_in(map_access::root(m)));

  const map_t changed = m.set(3 * 50'000, -1);
  const std::size_t height = map_access::height(map_access::root(changed));
  std::uint64_t root2 = map_chunks::save(map_access::root(changed), map_access::root(m), epoch, store);
  CHECK(store.commit(epoch) == height);  // one chunk per level above the leaves
  CHECK(root2 != root);

  const map_t loaded = load_map(store, root2, changed.size(), epoch);
  CHECK(loaded == changed);
  CHECK(map_access::check(loaded).empty());
  // Loaded nodes carry their chunk ids: saving the loaded map against itself writes nothing.
  CHECK(map_chunks::save(map_access::root(loaded), map_access::root(loaded), epoch, store) == root2);
  CHECK(store.commit(epoch) == 0);
}

TEST_CASE("the safety rule writes again tagged nodes not at the same place in the previous value",
          "[collections][chunks]") {
  map_store store;
  const std::uint64_t epoch = 3;
  const map_t m = map_of(10'000);
  map_chunks::save(map_access::root(m), nullptr, epoch, store);
  const std::size_t all = store.commit(epoch);

  SECTION("no previous value: everything is written") {
    map_chunks::save(map_access::root(m), nullptr, epoch, store);
    CHECK(store.commit(epoch) == all);
  }
  SECTION("another epoch (a new setup): everything is written") {
    map_chunks::save(map_access::root(m), map_access::root(m), epoch + 1, store);
    CHECK(store.commit(epoch + 1) == all);
  }
  SECTION("an old copy put back after another value was saved: written again") {
    const map_t other = map_of(10);
    map_chunks::save(map_access::root(other), map_access::root(m), epoch, store);
    store.commit(epoch);
    map_chunks::save(map_access::root(m), map_access::root(other), epoch, store);
    CHECK(store.commit(epoch) == all);
  }
  SECTION("after a change at the front, the untouched nodes are referred to") {
    // Erasing the first keys shifts nothing else: every untouched node stays in place.
    map_t shrunk = m;
    for (std::int64_t i = 0; i < 40; ++i) shrunk = shrunk.erase(i * 3);
    map_chunks::save(map_access::root(shrunk), map_access::root(m), epoch, store);
    CHECK(store.commit(epoch) < all / 4);
  }
}

TEST_CASE("a pvector and a pset saved node by node round-trip and write little after a change",
          "[collections][chunks]") {
  using vec_t = instadump::pvector<std::int64_t>;
  using vec_access = instadump::detail::pvector_access<std::int64_t>;
  using vec_chunks = instadump::detail::trie_chunks<vec_access>;
  memory_store<vec_access, std::int64_t, std::int64_t> store;
  const std::uint64_t epoch = 1;
  auto t = vec_t().transient();
  for (std::int64_t i = 0; i < 50'000; ++i) t.push_back(i * i);
  const vec_t v = std::move(t).persistent();
  vec_chunks::save(vec_access::root(v), vec_access::tail(v), nullptr, nullptr, 0, 0, epoch, store);
  const std::size_t all = store.commit(epoch);

  const vec_t changed = v.set(1234, -5).push_back(7);
  auto ids2 = vec_chunks::save(vec_access::root(changed), vec_access::tail(changed), vec_access::root(v),
                               vec_access::tail(v), changed.size() - vec_access::count(vec_access::tail(changed)),
                               v.size() - vec_access::count(vec_access::tail(v)), epoch, store);
  const std::size_t written = store.commit(epoch);
  CHECK(written <= vec_access::height(vec_access::root(changed)) + 2);  // the path to 1234, and the tail
  CHECK(written < all);

  const vec_t loaded = vec_access::assemble(ids2.root ? vec_chunks::load(ids2.root, store, epoch) : vec_access::node_ref(),
                                            ids2.tail ? vec_chunks::load(ids2.tail, store, epoch) : vec_access::node_ref(),
                                            changed.size());
  CHECK(loaded == changed);
  CHECK(vec_access::check(loaded).empty());

  using set_t = instadump::pset<std::int64_t>;
  using set_access = instadump::detail::pset_access<std::int64_t>;
  using set_chunks = instadump::detail::btree_chunks<set_access>;
  memory_store<set_access, std::int64_t, std::int64_t> set_store;
  auto st = set_t().transient();
  for (std::int64_t i = 0; i < 20'000; ++i) st.insert(i * 7);
  const set_t s = std::move(st).persistent();
  set_chunks::save(set_access::root(s), nullptr, epoch, set_store);
  set_store.commit(epoch);
  const set_t s2 = s.insert(5);
  std::uint64_t root = set_chunks::save(set_access::root(s2), set_access::root(s), epoch, set_store);
  CHECK(set_store.commit(epoch) == set_access::height(set_access::root(s2)));
  const set_t loaded_set = set_access::assemble(set_chunks::load(root, set_store, epoch), s2.size());
  CHECK(loaded_set == s2);
}

TEST_CASE("damaged chunks are refused with corrupt_data, never misbuilt", "[collections][chunks]") {
  map_store store;
  const map_t m = map_of(1000);
  std::uint64_t root = map_chunks::save(map_access::root(m), nullptr, 1, store);
  store.commit(1);
  REQUIRE_FALSE(store.chunks[root].children.empty());

  SECTION("a cycle") {
    store.chunks[root].children[0] = root;
    store.chunks[root].sizes[0] = m.size();
    CHECK_THROWS_AS(load_map(store, root, m.size(), 2), instadump::corrupt_data);
  }
  SECTION("a size a branch claims wrongly") {
    store.chunks[root].sizes[1] += 1;
    CHECK_THROWS_WITH(load_map(store, root, m.size(), 2), Catch::Contains("claims a size for child 1"));
  }
  SECTION("children out of order") {
    std::swap(store.chunks[root].children[0], store.chunks[root].children[1]);
    std::swap(store.chunks[root].sizes[0], store.chunks[root].sizes[1]);
    CHECK_THROWS_AS(load_map(store, root, m.size(), 2), instadump::corrupt_data);
  }
  SECTION("a leaf whose keys are not increasing") {
    std::uint64_t leaf = root;
    while (!store.chunks[leaf].children.empty()) leaf = store.chunks[leaf].children[0];
    std::swap(store.chunks[leaf].keys[0], store.chunks[leaf].keys[1]);
    CHECK_THROWS_AS(load_map(store, root, m.size(), 2), instadump::corrupt_data);
  }
  SECTION("a size the descriptor claims wrongly") {
    CHECK_THROWS_AS(load_map(store, root, m.size() + 1, 2), instadump::corrupt_data);
  }
}

namespace {

// A map of `n` entries from key `first` on, built the way a codec decodes a
// stored collection (full leaves, the last two evened out).
map_t sorted_map(std::int64_t first, std::int64_t n) {
  map_access::bulk_builder b;
  for (std::int64_t i = 0; i < n; ++i) b.add(first + i, i);
  return std::move(b).finish();
}

}  // namespace

TEST_CASE("a leaf group's entries become a lowest branch that fits wherever they can sit",
          "[collections][chunks]") {
  for (std::int64_t n : {16, 17, 31, 32, 40, 48, 49, 100, 128}) {
    CAPTURE(n);
    for (const map_t& whole : {sorted_map(0, n), map_of(n)}) {
      const auto branch = map_access::lowest_branch(map_access::root(whole));
      REQUIRE(map_access::height(branch.get()) == 1);
      const map_t as_root = map_access::assemble(branch, static_cast<std::uint64_t>(n));
      CHECK(as_root == whole);
      CHECK(map_access::check(as_root).empty());
      // From 32 entries on (four half-full leaves), the group may sit below
      // another branch, which needs at least that many children in it.
      if (n >= 32) {
        const auto after = map_access::lowest_branch(map_access::root(sorted_map(1000, n)));
        const std::vector<map_access::node_ref> both{branch, after};
        const map_t two = map_access::assemble(map_access::make_branch(both), 2 * static_cast<std::uint64_t>(n));
        CHECK(map_access::check(two).empty());
        CHECK(two.size() == 2 * static_cast<std::uint64_t>(n));
      }
    }
  }
  CHECK_THROWS_WITH(map_access::lowest_branch(map_access::root(sorted_map(0, 15))),
                    Catch::Contains("holds 15 entries"));
  CHECK_THROWS_WITH(map_access::lowest_branch(map_access::root(sorted_map(0, 129))),
                    Catch::Contains("holds 129 entries"));
  CHECK_THROWS_AS(map_access::lowest_branch(nullptr), instadump::corrupt_data);
}

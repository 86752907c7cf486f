// btree_access: the persistence layer's view of pmap and pset nodes.
//
// Not for applications: generated codecs and the snapshot store use it to
// save a map node by node and to load it back without rebuilding it entry
// by entry.
//
//   Saving: start at root(m); a node whose stored_tag() is not 0 is stored
//   already (write its tag instead); else write its children first, then
//   the node (a leaf's keys() and values(), or a branch's children and
//   their subtree_size()), then set_stored_tag(). Tags are per node, so a
//   node shared by many versions is written once. A node changed in place
//   (by a transient) has tag 0 again.
//
//   Loading: build each stored leaf (leaf_builder or make_leaf) and each
//   branch from its children (make_branch), then the map with assemble();
//   set the tags of the nodes loaded so that the next save skips them.
//   Everything given is checked as it is built: a damaged store throws
//   instadump::corrupt_data naming what is wrong, never misbuilds a map.
//
// Node handles (`node_ref`) hold the node; `const node*` from a value is
// valid while the value is alive. Visiting and tag calls are thread-safe
// on values other threads read or copy.
module;
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/errors.h"
export module instadump:btree_access;
import :pnode;
import :btree_nodes;
import :btree_value;
import :btree_build;
import :btree_check;
import :collection_errors;
import :pmap;
import :pset;

export namespace instadump::detail {

template <class K, class V>
struct btree_access : node_inspection {
  using nodes = btree_nodes<K, V>;
  using node_ref = detail::node_ref<nodes>;
  using check = btree_check<K, V>;

  // Bounds every stored node respects (a loaded one that does not is
  // rejected): a leaf has 1..max_leaf_entries entries, a branch
  // 2..max_branch_children children; nodes other than the root have at
  // least min_leaf_entries / min_branch_children; the root is at most at
  // max_height.
  static constexpr std::size_t max_leaf_entries = nodes::leaf_max;
  static constexpr std::size_t min_leaf_entries = nodes::leaf_min;
  static constexpr std::size_t max_branch_children = nodes::branch_max;
  static constexpr std::size_t min_branch_children = nodes::branch_min;
  static constexpr std::size_t max_height = nodes::max_height;

  // --- visiting (and node_inspection's) ---

  // REQUIRES: a branch, i < count(n).
  static const node* child(const node* n, std::size_t i) noexcept { return nodes::as_branch(n)->children[i]; }
  // A leaf's keys; a branch's separators (count(n) - 1 of them; a loader
  // need not keep them: make_branch derives them from the children).
  static std::span<const K> keys(const node* n) noexcept {
    if (n->height == 0) return {nodes::as_leaf(n)->keys.data(), n->count};
    return {nodes::as_branch(n)->keys.data(), n->count - 1u};
  }
  // A leaf's values, in the order of its keys. REQUIRES: a leaf.
  static std::span<const V> values(const node* n) noexcept
    requires nodes::has_values
  {
    return {nodes::as_leaf(n)->values.data(), n->count};
  }

  // --- building ---

  // Fills one leaf, entry by entry, straight from decoded data. Throws
  // corrupt_data if a key is not above the one before it or the leaf is
  // full; finish() throws it if the leaf is empty.
  class leaf_builder {
   public:
    void add(K key, V value)
      requires nodes::has_values
    {
      admit(key);
      b_.add(std::move(key), std::move(value));
    }
    void add(K key)
      requires(!nodes::has_values)
    {
      admit(key);
      b_.add(std::move(key), no_value{});
    }
    node_ref finish() && {
      if (b_.count() == 0) throw corrupt_data("a stored leaf has no entries");
      return node_ref::adopt(b_.finish());
    }

   private:
    void admit(const K& key) const {
      std::uint16_t n = b_.count();
      if (n == nodes::leaf_max) {
        throw corrupt_data("a stored leaf has more than " + std::to_string(nodes::leaf_max) + " entries");
      }
      if (n > 0 && !nodes::less(b_.get()->keys[n - 1], key)) {
        throw corrupt_data("the keys of a stored leaf are not strictly increasing (entry " + std::to_string(n) + ")");
      }
    }
    typename nodes::leaf_builder b_;
  };

  // A leaf of copies of these entries (checked as leaf_builder does).
  static node_ref make_leaf(std::span<const K> keys, std::span<const V> values)
    requires nodes::has_values
  {
    if (keys.size() != values.size()) {
      throw corrupt_data("a stored leaf has " + std::to_string(keys.size()) + " keys but " +
                         std::to_string(values.size()) + " values");
    }
    if (std::string e = check::check_leaf(keys.data(), keys.size()); !e.empty()) throw corrupt_data("stored data: " + e);
    typename nodes::leaf_builder b;
    for (std::size_t i = 0; i < keys.size(); ++i) b.add(keys[i], values[i]);
    return node_ref::adopt(b.finish());
  }
  static node_ref make_leaf(std::span<const K> keys)
    requires(!nodes::has_values)
  {
    if (std::string e = check::check_leaf(keys.data(), keys.size()); !e.empty()) throw corrupt_data("stored data: " + e);
    typename nodes::leaf_builder b;
    for (const K& k : keys) b.add(k, no_value{});
    return node_ref::adopt(b.finish());
  }

  // A branch over `children` (each gets one more hold); its separators are
  // the first keys of children 1.. . Throws corrupt_data if they do not
  // form a valid branch (see btree_check::check_branch).
  static node_ref make_branch(std::span<const node_ref> children) {
    std::vector<const node_header*> raw;
    raw.reserve(children.size());
    for (const node_ref& c : children) {
      if (!c) throw corrupt_data("a stored branch has a missing child");
      raw.push_back(c.get());
    }
    if (std::string e = check::check_branch(raw.data(), raw.size()); !e.empty()) throw corrupt_data("stored data: " + e);
    typename nodes::branch_builder b(static_cast<std::uint8_t>(raw[0]->height + 1));
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (i > 0) b.separator(nodes::first_key(raw[i]));
      b.share(children[i].get());
    }
    return node_ref::adopt(b.finish());
  }

  // The most entries one lowest branch (height 1) holds.
  static constexpr std::size_t max_lowest_branch_entries = nodes::leaf_max * nodes::branch_max;

  // A lowest branch (height 1) over the entries of the tree `root`, for a
  // store that keeps a lowest branch as one collection of its entries (a
  // leaf group, docs/FORMAT.md): the leaves are the loader's to choose,
  // since only the entries are stored. `root` itself when it is a lowest
  // branch of enough children to sit anywhere its entries allow (at least
  // min_branch_children once they fill that many half-full leaves), else a
  // branch of new leaves sharing the entries evenly (copies). Throws
  // corrupt_data when the entries are too few for two half-full leaves or
  // more than max_lowest_branch_entries.
  static node_ref lowest_branch(const node* root) {
    const std::uint64_t n = root ? root->size : 0;
    if (n < 2 * nodes::leaf_min || n > max_lowest_branch_entries) {
      throw corrupt_data("a stored leaf group holds " + std::to_string(n) + " entries (a lowest branch holds " +
                         std::to_string(2 * nodes::leaf_min) + " to " + std::to_string(max_lowest_branch_entries) +
                         ")");
    }
    const std::size_t least_children = std::min<std::size_t>(nodes::branch_min, n / nodes::leaf_min);
    if (root->height == 1 && root->count >= least_children) return node_ref::share(const_cast<node*>(root));
    std::vector<const typename nodes::leaf*> source;
    collect_leaves(root, source);
    const std::size_t leaves = std::max<std::size_t>((n + nodes::leaf_max - 1) / nodes::leaf_max, least_children);
    std::vector<node_ref> built;
    built.reserve(leaves);
    std::size_t from_leaf = 0, from_entry = 0;
    for (std::size_t i = 0; i < leaves; ++i) {
      std::size_t take = (i + 1) * n / leaves - i * n / leaves;
      typename nodes::leaf_builder b;
      while (take > 0) {
        const typename nodes::leaf* l = source[from_leaf];
        const std::size_t k = std::min<std::size_t>(take, l->count - from_entry);
        b.copy(l, from_entry, from_entry + k);
        take -= k;
        from_entry += k;
        if (from_entry == l->count) {
          ++from_leaf;
          from_entry = 0;
        }
      }
      built.push_back(node_ref::adopt(b.finish()));
    }
    return make_branch(built);
  }

 protected:
  // The root of a tree assembled from `root` and its claimed size.
  static tree_root<K, V> assemble_tree(node_ref root, std::uint64_t size) {
    if (!root) {
      if (size != 0) throw corrupt_data("a stored collection of " + std::to_string(size) + " entries has no root");
      return {};
    }
    const node_header* r = root.get();
    if (r->size != size) {
      throw corrupt_data("a stored collection claims " + std::to_string(size) + " entries but its nodes hold " +
                         std::to_string(r->size));
    }
    return tree_root<K, V>(root.release());
  }

  // The leaves under `n`, in key order (`n` is a checked tree's node).
  static void collect_leaves(const node* n, std::vector<const typename nodes::leaf*>& out) {
    if (n->height == 0) return out.push_back(nodes::as_leaf(n));
    for (std::uint16_t i = 0; i < n->count; ++i) collect_leaves(nodes::as_branch(n)->children[i], out);
  }

  // Streams sorted entries into a tree (see btree_build.cppm); a key not
  // above the one before it throws corrupt_data.
  class bulk_tree {
   public:
    // Whether add(key, ...) would take `key` (it is above every key added).
    bool accepts(const K& key) const {
      const K* before = bulk_.last_key();
      return !before || nodes::less(*before, key);
    }
    template <class... Value>
    void add(K key, Value&&... value) {
      const K* before = bulk_.last_key();
      if (before && !nodes::less(*before, key)) {
        throw corrupt_data("stored keys are not strictly increasing (entry " + std::to_string(added_) + ", " +
                           describe_key(key) + ")");
      }
      bulk_.add(std::move(key), V(std::forward<Value>(value)...));
      ++added_;
    }
    tree_root<K, V> finish() && { return std::move(bulk_).finish(); }

   private:
    btree_bulk<K, V> bulk_;
    std::uint64_t added_ = 0;
  };
};

// pmap<K, V>'s nodes: see btree_access above.
template <class K, class V>
struct pmap_access : btree_access<K, V> {
  using base = btree_access<K, V>;

  // The map's root node (null if it is empty).
  static const node_header* root(const pmap<K, V>& m) noexcept { return m.t_.get(); }
  // The first broken invariant of the map's tree, or "" (for tests).
  static std::string check(const pmap<K, V>& m) { return btree_check<K, V>::check_tree(root(m)); }

  // The map of the tree `root` (null for an empty map), which must hold
  // `size` entries; throws corrupt_data if it does not. The root may be a
  // leaf with fewer than min_leaf_entries, or a branch of two or more.
  static pmap<K, V> assemble(typename base::node_ref root, std::uint64_t size) {
    return pmap<K, V>(base::assemble_tree(std::move(root), size));
  }

  // Builds a map from entries in strictly increasing key order, with full
  // nodes and one copy of each entry (loading a std::map's snapshot into a
  // pmap). add() throws corrupt_data if a key is not above the one before
  // (accepts() says beforehand).
  class bulk_builder {
   public:
    bool accepts(const K& key) const { return b_.accepts(key); }
    void add(K key, V value) { b_.add(std::move(key), std::move(value)); }
    pmap<K, V> finish() && { return pmap<K, V>(std::move(b_).finish()); }

   private:
    typename base::bulk_tree b_;
  };
};

// pset<K>'s nodes: see btree_access above (no values).
template <class K>
struct pset_access : btree_access<K, no_value> {
  using base = btree_access<K, no_value>;

  static const node_header* root(const pset<K>& s) noexcept { return s.t_.get(); }
  static std::string check(const pset<K>& s) { return btree_check<K, no_value>::check_tree(root(s)); }
  static pset<K> assemble(typename base::node_ref root, std::uint64_t size) {
    return pset<K>(base::assemble_tree(std::move(root), size));
  }
  class bulk_builder {
   public:
    bool accepts(const K& key) const { return b_.accepts(key); }
    void add(K key) { b_.add(std::move(key)); }
    pset<K> finish() && { return pset<K>(std::move(b_).finish()); }

   private:
    typename base::bulk_tree b_;
  };
};

}  // namespace instadump::detail

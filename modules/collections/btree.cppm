// btree: the operations pmap and pset (and their transients) apply to a
// tree's root.
//
// Each change comes in two forms. The copying form (upserted, erased)
// leaves the tree it is given untouched and returns the root of a new tree
// that shares all but the changed path. The in-place form (upsert_in_place,
// erase_in_place) changes the tree itself, and is used when the caller
// holds the only reference to the root: then it changes the leaf directly
// when the whole path down to it is uniquely held, the change stays inside
// the leaf (no split, no underflow) and moving entries cannot throw; else it
// declines, and the caller copies the path (and frees the old one, which it
// alone held). A leaf changed in place gets stored tag 0 again, and so does
// every node above it.
module;
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>
export module instadump:btree;
import :pnode;
import :btree_nodes;
import :btree_edit;

export namespace instadump::detail {

template <class K, class V>
struct btree {
  using nodes = btree_nodes<K, V>;
  using edit = btree_edit<K, V>;
  using leaf = typename nodes::leaf;
  using branch = typename nodes::branch;

  // The root of the tree `root` with `key` set (see btree_edit::upsert for
  // `make` and `replace`), holding one hold for the caller; `root` itself,
  // with a new hold, if nothing changed. `root` may be null (empty tree).
  template <class Make>
  static node_header* upserted(node_header* root, K& key, Make& make, bool replace) {
    if (!root) {
      typename nodes::leaf_builder b;
      b.add(std::move(key), make(nullptr));
      return b.finish();
    }
    typename edit::outcome o = edit::upsert(root, key, make, replace);
    if (!o.node) {
      hold(root);
      return root;
    }
    if (!o.right) return o.node.release();
    typename nodes::branch_builder b(static_cast<std::uint8_t>(root->height + 1));
    b.adopt(o.node.get());
    b.separator(*o.separator);
    b.adopt(o.right.get());
    o.node.release();
    o.right.release();
    return b.finish();
  }

  // The root of the tree `root` without `key` (one hold for the caller;
  // null if it became empty; `root` with a new hold if `key` was absent).
  static node_header* erased(node_header* root, const K& key) {
    if (!root) return nullptr;
    typename edit::outcome o = edit::erase(root, key);
    if (!o.node) {
      hold(root);
      return root;
    }
    node_header* r = o.node.get();
    if (r->height == 0 && r->count == 0) return nullptr;
    if (r->height > 0 && r->count == 1) {  // the root lost a child: its one child is the new root
      node_header* only = nodes::as_branch(r)->children[0];
      hold(only);
      return only;
    }
    return o.node.release();
  }

  // Applies upserted() to the caller's own tree: `root` is replaced.
  template <class Make>
  static void upsert(node_header*& root, K& key, Make& make, bool replace) {
    if (root && upsert_in_place(root, key, make, replace)) return;
    node_header* next = upserted(root, key, make, replace);
    if (root) nodes::release(root);
    root = next;
  }

  // Applies erased() to the caller's own tree: `root` is replaced.
  static void erase(node_header*& root, const K& key) {
    if (!root || erase_in_place(root, key)) return;
    node_header* next = erased(root, key);
    nodes::release(root);
    root = next;
  }

  // The change of upserted(), made in place if it can be (see above);
  // returns false, having changed nothing and not called `make`, if not.
  template <class Make>
  static bool upsert_in_place(node_header* root, K& key, Make& make, bool replace) {
    if constexpr (!nodes::moves_cannot_throw) {
      return false;
    } else {
      node_header* path[nodes::max_height + 1];
      std::size_t depth = 0;
      leaf* l = unique_leaf(root, key, path, depth);
      if (!l) return false;
      std::uint16_t i = nodes::lower_index(l, key);
      if (nodes::is_at(l, i, key)) {
        if constexpr (nodes::has_values) {
          if (replace) {
            V value = make(&l->values[i]);
            l->values[i] = std::move(value);
            touch(path, depth, 0);
          }
        }
        return true;
      }
      if (l->count == nodes::leaf_max) return false;
      V value = make(nullptr);
      open_gap(l->keys.data(), l->count, i, std::move(key));
      if constexpr (nodes::has_values) open_gap(l->values.data(), l->count, i, std::move(value));
      ++l->count;
      touch(path, depth, +1);
      return true;
    }
  }

  // The change of erased(), made in place if it can be; false otherwise.
  static bool erase_in_place(node_header* root, const K& key) {
    if constexpr (!nodes::moves_cannot_throw) {
      return false;
    } else {
      node_header* path[nodes::max_height + 1];
      std::size_t depth = 0;
      leaf* l = unique_leaf(root, key, path, depth);
      if (!l) return false;
      std::uint16_t i = nodes::lower_index(l, key);
      if (!nodes::is_at(l, i, key)) return true;
      // A leaf may not go below half full; the root leaf may not go empty.
      if (l->count <= (depth > 1 ? nodes::leaf_min : 1)) return false;
      close_gap(l->keys.data(), l->count, i);
      if constexpr (nodes::has_values) close_gap(l->values.data(), l->count, i);
      --l->count;
      touch(path, depth, -1);
      return true;
    }
  }

 private:
  // The leaf that holds `key`'s range if every node from the root down to
  // it has one holder; null otherwise. Records the path (leaf last).
  static leaf* unique_leaf(node_header* n, const K& key, node_header** path, std::size_t& depth) {
    while (true) {
      if (!held_once(n)) return nullptr;
      path[depth++] = n;
      if (n->height == 0) return nodes::as_leaf(n);
      n = nodes::as_branch(n)->children[nodes::child_index(nodes::as_branch(n), key)];
    }
  }

  // The path's nodes changed: their content differs from what may have been
  // stored, and their subtrees gained or lost `delta` entries.
  static void touch(node_header** path, std::size_t depth, int delta) noexcept {
    for (std::size_t j = 0; j < depth; ++j) {
      path[j]->stored_tag.store(0, std::memory_order_relaxed);
      path[j]->size = static_cast<std::uint64_t>(static_cast<std::int64_t>(path[j]->size) + delta);
    }
  }

  // Inserts `x` at `i` of the `n` objects at `a` (room for n + 1).
  template <class T>
  static void open_gap(T* a, std::size_t n, std::size_t i, T&& x) noexcept {
    if (i == n) {
      ::new (static_cast<void*>(a + n)) T(std::move(x));
      return;
    }
    ::new (static_cast<void*>(a + n)) T(std::move(a[n - 1]));
    std::move_backward(a + i, a + n - 1, a + n);
    a[i] = std::move(x);
  }

  // Removes the object at `i` of the `n` objects at `a`.
  template <class T>
  static void close_gap(T* a, std::size_t n, std::size_t i) noexcept {
    std::move(a + i + 1, a + n, a + i);
    a[n - 1].~T();
  }
};

}  // namespace instadump::detail

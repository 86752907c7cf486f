// btree_edit: changing a persistent B+-tree by path copying.
//
// An insert, replace or erase builds new nodes for the path from the root to
// the leaf it changes, and shares every other node with the tree it started
// from, which is left exactly as it was: a new node takes a hold on each
// child it shares. A full node splits into two; a node left less than half
// full is merged with a neighbour, or takes entries from it. Everything that
// can throw (allocation, copies of keys and values, comparisons) happens
// while the new nodes are built, before anything the old tree can see is
// touched, so an exception leaves the old tree unchanged and frees whatever
// was built (strong guarantee).
//
// Node changes are described as "virtual" nodes, lists of pieces of
// existing nodes plus at most one new entry, and then built as one node, or
// as two halves when they do not fit in one.
module;
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
export module instadump:btree_edit;
import :pnode;
import :btree_nodes;

export namespace instadump::detail {

template <class K, class V>
class btree_edit {
  using nodes = btree_nodes<K, V>;
  using leaf = typename nodes::leaf;
  using branch = typename nodes::branch;
  using leaf_builder = typename nodes::leaf_builder;
  using branch_builder = typename nodes::branch_builder;
  using ref = node_ref<nodes>;

 public:
  // A subtree changed by path copying. `node` is its replacement (null when
  // nothing changed); when it split, `right` is the new right half and
  // `separator` the key between them (it points into a node of the old or
  // the new tree, alive until the caller lets go of either).
  struct outcome {
    ref node;
    ref right;
    const K* separator = nullptr;
    int delta = 0;  // entries added (+1) or removed (-1)
  };

  // Gives `key` a value in the subtree `n`. If the key is absent, the entry
  // (key, make(nullptr)) is added (`key` is moved from). If it is present
  // and `replace` is true, its value becomes make(&current) and the stored
  // key is kept; if `replace` is false, nothing changes. `make` is called
  // at most once, before any node is built.
  template <class Make>
  static outcome upsert(const node_header* n, K& key, Make& make, bool replace) {
    if (n->height == 0) return upsert_leaf(nodes::as_leaf(n), key, make, replace);
    const branch* b = nodes::as_branch(n);
    std::uint16_t i = nodes::child_index(b, key);
    nodes::prefetch_child(b->children[i], n);  // all of it is copied
    prefetch_siblings(b, i);
    outcome below = upsert(b->children[i], key, make, replace);
    if (!below.node) return below;
    return replace_child(b, i, std::move(below));
  }

  // Removes `key` from the subtree `n` (nothing changes if it is absent).
  // The replacement may be less than half full; its parent (or, at the
  // root, the caller) fixes that.
  static outcome erase(const node_header* n, const K& key) {
    if (n->height == 0) {
      const leaf* l = nodes::as_leaf(n);
      std::uint16_t i = nodes::lower_index(l, key);
      if (!nodes::is_at(l, i, key)) return {};
      virtual_leaf v;
      v.piece(l, 0, i);
      v.piece(l, i + 1u, l->count);
      outcome o = build(v);
      o.delta = -1;
      return o;
    }
    const branch* b = nodes::as_branch(n);
    std::uint16_t i = nodes::child_index(b, key);
    prefetch_siblings(b, i);
    outcome below = erase(b->children[i], key);
    if (!below.node) return below;
    std::uint16_t least = below.node.get()->height == 0 ? nodes::leaf_min : nodes::branch_min;
    if (below.node.get()->count >= least) return replace_child(b, i, std::move(below));
    return rebalance(b, i, std::move(below));
  }

 private:
  // The copy of `b` made on the way back up takes a hold on each child but
  // child `i`: a locked write to a line of each, usually not in the cache.
  // Starting those loads on the way down lets their misses overlap the
  // descent's instead of following it level by level (a change at a random
  // key of a 1M-entry map: about a fifth faster, bench/collections_bench).
  static void prefetch_siblings(const branch* b, std::uint16_t i) noexcept {
    for (std::uint16_t j = 0; j < b->count; ++j) {
      if (j != i) __builtin_prefetch(b->children[j], 1, 3);
    }
  }

  // --- virtual leaves ---

  // A leaf to build: up to three pieces, each a range of an existing leaf's
  // entries or the one new entry.
  struct leaf_piece {
    const leaf* src;  // null: the new entry
    std::uint16_t from, to;
  };
  struct virtual_leaf {
    leaf_piece pieces[3];
    int n = 0;
    std::size_t count = 0;
    K* move_key = nullptr;        // the new entry's key, moved in...
    const K* copy_key = nullptr;  // ...or copied in
    V* value = nullptr;           // the new entry's value, moved in

    void piece(const leaf* src, std::size_t from, std::size_t to) {
      if (from >= to) return;
      pieces[n++] = {src, static_cast<std::uint16_t>(from), static_cast<std::uint16_t>(to)};
      count += to - from;
    }
    void entry() {
      pieces[n++] = {nullptr, 0, 1};
      ++count;
    }
  };

  // Appends positions [from, to) of `v` to `b`.
  static void fill(leaf_builder& b, virtual_leaf& v, std::size_t from, std::size_t to) {
    std::size_t at = 0;  // position of the current piece's first entry
    for (int p = 0; p < v.n && at < to; ++p) {
      const leaf_piece& piece = v.pieces[p];
      std::size_t len = piece.to - piece.from;
      std::size_t lo = std::max(from, at), hi = std::min(to, at + len);
      if (lo < hi) {
        if (!piece.src) {
          if (v.move_key) {
            b.add(std::move(*v.move_key), std::move(*v.value));
          } else {
            b.add(*v.copy_key, std::move(*v.value));
          }
        } else {
          b.copy(piece.src, piece.from + (lo - at), piece.from + (hi - at));
        }
      }
      at += len;
    }
  }

  // One leaf, or two halves when `v` does not fit in one.
  static outcome build(virtual_leaf& v) {
    outcome o;
    if (v.count <= nodes::leaf_max) {
      leaf_builder b;
      fill(b, v, 0, v.count);
      o.node = ref::adopt(b.finish());
      return o;
    }
    std::size_t half = v.count / 2;
    leaf_builder a, c;
    fill(a, v, 0, half);
    fill(c, v, half, v.count);
    o.node = ref::adopt(a.finish());
    o.right = ref::adopt(c.finish());
    o.separator = &nodes::as_leaf(o.right.get())->keys[0];
    return o;
  }

  template <class Make>
  static outcome upsert_leaf(const leaf* l, K& key, Make& make, bool replace) {
    std::uint16_t i = nodes::lower_index(l, key);
    bool found = nodes::is_at(l, i, key);
    if (found && (!replace || !nodes::has_values)) return {};
    V value = make(found ? value_at(l, i) : nullptr);
    virtual_leaf v;
    v.value = &value;
    v.piece(l, 0, i);
    v.entry();
    if (found) {
      v.copy_key = &l->keys[i];
      v.piece(l, i + 1u, l->count);
    } else {
      v.move_key = &key;
      v.piece(l, i, l->count);
    }
    outcome o = build(v);
    o.delta = found ? 0 : 1;
    return o;
  }

  static const V* value_at(const leaf* l, std::uint16_t i) noexcept {
    if constexpr (nodes::has_values) {
      return &l->values[i];
    } else {
      return nullptr;
    }
  }

  // --- virtual branches ---

  // A branch to build: children (shared ones get a new hold, fresh ones are
  // adopted) and the separators between them.
  struct virtual_branch {
    struct slot {
      node_header* node;
      bool fresh;
    };
    slot children[2 * nodes::branch_max];
    const K* keys[2 * nodes::branch_max];
    std::size_t count = 0, key_count = 0;

    void child(node_header* c, bool fresh) { children[count++] = {c, fresh}; }
    void key(const K* k) { keys[key_count++] = k; }
    // Children [from, to) of `src` and the separators between them.
    void copy(const branch* src, std::size_t from, std::size_t to) {
      for (std::size_t j = from; j < to; ++j) {
        if (j > from) key(&src->keys[j - 1]);
        child(src->children[j], false);
      }
    }
  };

  static void fill(branch_builder& b, const virtual_branch& v, std::size_t from, std::size_t to) {
    for (std::size_t j = from; j < to; ++j) {
      if (!v.children[j].fresh) __builtin_prefetch(v.children[j].node, 1, 3);
    }
    for (std::size_t j = from; j < to; ++j) {
      if (j > from) b.separator(*v.keys[j - 1]);
      if (v.children[j].fresh) {
        b.adopt(v.children[j].node);
      } else {
        b.share(v.children[j].node);
      }
    }
  }

  // One branch, or two halves when `v` does not fit in one. The fresh
  // children of `v` are adopted: on return the caller must give up its own
  // holds on them without dropping them (ref::release()).
  static outcome build(const virtual_branch& v, std::uint8_t height) {
    outcome o;
    if (v.count <= nodes::branch_max) {
      branch_builder b(height);
      fill(b, v, 0, v.count);
      o.node = ref::adopt(b.finish());
      return o;
    }
    std::size_t half = v.count / 2;
    branch_builder a(height), c(height);
    fill(a, v, 0, half);
    fill(c, v, half, v.count);
    o.node = ref::adopt(a.finish());
    o.right = ref::adopt(c.finish());
    o.separator = v.keys[half - 1];
    return o;
  }

  // `b` with child `i` replaced by `below.node` (and `below.right` after it
  // if the child split).
  static outcome replace_child(const branch* b, std::uint16_t i, outcome below) {
    virtual_branch v;
    v.copy(b, 0, i);
    if (i > 0) v.key(&b->keys[i - 1]);
    v.child(below.node.get(), true);
    if (below.right) {
      v.key(below.separator);
      v.child(below.right.get(), true);
    }
    if (i + 1u < b->count) {
      v.key(&b->keys[i]);
      v.copy(b, i + 1u, b->count);
    }
    outcome o = build(v, b->height);
    below.node.release();
    below.right.release();
    o.delta = below.delta;
    return o;
  }

  // `b` after child `i` was replaced by `below.node`, which is less than
  // half full: it is merged with a neighbour, or the two share their
  // entries evenly when they do not fit in one node.
  static outcome rebalance(const branch* b, std::uint16_t i, outcome below) {
    std::uint16_t lo = i > 0 ? static_cast<std::uint16_t>(i - 1) : i;  // the pair is children lo, lo + 1
    const node_header* left = lo == i ? below.node.get() : b->children[lo];
    const node_header* right = lo == i ? b->children[lo + 1] : below.node.get();
    outcome pair;
    if (left->height == 0) {
      virtual_leaf v;
      v.piece(nodes::as_leaf(left), 0, left->count);
      v.piece(nodes::as_leaf(right), 0, right->count);
      pair = build(v);
    } else {
      virtual_branch v;
      v.copy(nodes::as_branch(left), 0, left->count);
      v.key(&b->keys[lo]);
      v.copy(nodes::as_branch(right), 0, right->count);
      pair = build(v, left->height);
    }
    virtual_branch parent;
    parent.copy(b, 0, lo);
    if (lo > 0) parent.key(&b->keys[lo - 1]);
    parent.child(pair.node.get(), true);
    if (pair.right) {
      parent.key(pair.separator);
      parent.child(pair.right.get(), true);
    }
    if (lo + 2u < b->count) {
      parent.key(&b->keys[lo + 1]);
      parent.copy(b, lo + 2u, b->count);
    }
    outcome o = build(parent, b->height);
    pair.node.release();
    pair.right.release();
    o.delta = below.delta;
    return o;  // `below` (merged into `pair`) is released here
  }
};

}  // namespace instadump::detail

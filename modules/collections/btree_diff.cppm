// btree_diff: the entries by which two versions of a pmap or pset differ,
// found at the cost of what changed between them.
//
// Not for applications: a save of a big collection uses it to write only the
// entries changed since the previous save (chunked_state's deltas), where a
// node-by-node save would rewrite every leaf a change touched, and its path.
//
// Two versions of a persistent collection share every node that no change
// touched, and a shared node holds the same entries in both. The diff walks
// both trees in key order with one cursor each; whenever both cursors stand
// at the start of the same node (the same pointer), that whole subtree is
// skipped in both. What is left is a merge of the entries of the nodes a
// change copied: O(changed leaves x leaf size + height), however big the
// collection.
module;
#include <algorithm>
#include <cstddef>
#include <concepts>
#include <cstdint>
#include <functional>
#include <type_traits>
export module instadump:btree_diff;
import :pnode;

export namespace instadump::detail {

// Access: pmap_access<K, V> or pset_access<K>.
template <class Access>
class btree_diff {
 public:
  using node = node_header;

  // Calls changed(const K&, const V&) for each entry of `now` that `before`
  // does not hold with an equal value (a pset's: changed(const K&)), and
  // erased(const K&) for each key of `before` that `now` lacks, both in key
  // order. Values of a type without operator== count as changed whenever
  // the leaf holding them was copied. Either root may be null (empty).
  // Returns false, having stopped, once more than `limit` entries differ.
  template <class Changed, class Erased>
  static bool run(const node* before, const node* now, std::uint64_t limit, Changed&& changed, Erased&& erased) {
    if (before == now) return true;
    cursor a(before), b(now);
    std::uint64_t found = 0;
    for (;;) {
      // Where both stand before the same node, skip it; else go down
      // (into the taller one, or both) until they stand in leaves.
      if (a.pending() && b.pending()) {
        if (a.upcoming() == b.upcoming()) {
          a.skip_upcoming();
          b.skip_upcoming();
        } else {
          const std::size_t ha = a.upcoming_height(), hb = b.upcoming_height();
          if (ha >= hb) a.enter();
          if (hb >= ha) b.enter();
          if (ha == hb && ha > 0) prefetch_differing_children(a.branch(), b.branch());
        }
        continue;
      }
      if (skip_leaf_against_pending(a, b) || skip_leaf_against_pending(b, a)) continue;
      a.settle();
      b.settle();
      if (a.at_end() && b.at_end()) return true;
      if (b.at_end() || (!a.at_end() && less(a.key(), b.key()))) {
        if (++found > limit) return false;
        erased(a.key());
        a.next();
      } else if (a.at_end() || less(b.key(), a.key())) {
        if (++found > limit) return false;
        report(b, changed);
        b.next();
      } else {
        if (!same_value(a, b)) {
          if (++found > limit) return false;
          report(b, changed);
        }
        a.next();
        b.next();
      }
    }
  }

 private:
  using K = std::remove_cvref_t<decltype(Access::keys(nullptr)[0])>;
  static constexpr bool has_values = requires(const node* n) { Access::values(n); };

  static bool less(const K& x, const K& y) { return std::less<K>{}(x, y); }

  // A position in one tree: the path from the root down to the current
  // entry (entry index in a leaf, child index in each branch above it) or,
  // while *pending*, to a branch and the child whose subtree starts here,
  // not entered yet: such a child can be compared (by address) and skipped
  // without reading it.
  class cursor {
   public:
    explicit cursor(const node* root) {
      if (root) path_[depth_++] = {root, 0};
    }
    bool at_end() const noexcept { return depth_ == 0; }
    bool pending() const noexcept { return depth_ != 0 && !Access::is_leaf(top().n); }
    // In a leaf, at its first entry.
    bool at_leaf_start() const noexcept { return depth_ != 0 && !pending() && top().i == 0; }

    // REQUIRES: pending(). The subtree that starts here, and its height
    // (known from its parent's: the child is not read).
    const node* upcoming() const noexcept { return Access::child(top().n, top().i); }
    std::size_t upcoming_height() const noexcept { return Access::height(top().n) - 1; }
    void enter() noexcept {
      const node* n = upcoming();
      Access::nodes::prefetch_child(n, top().n);
      path_[depth_++] = {n, 0};
    }
    void skip_upcoming() noexcept { advance(depth_ - 1); }
    void settle() noexcept {
      while (pending()) enter();
    }

    // REQUIRES: pending(). The branch it stands in.
    const node* branch() const noexcept { return top().n; }

    // REQUIRES: in a leaf (not pending, not at the end).
    const node* leaf() const noexcept { return top().n; }
    std::size_t index() const noexcept { return top().i; }
    const K& key() const noexcept { return Access::keys(leaf())[index()]; }
    void next() noexcept {
      if (++top().i < Access::count(leaf())) return;
      skip_leaf();
    }
    void skip_leaf() noexcept {
      if (--depth_ != 0) advance(depth_ - 1);
    }

   private:
    struct frame {
      const node* n;
      std::size_t i;
    };
    frame& top() noexcept { return path_[depth_ - 1]; }
    const frame& top() const noexcept { return path_[depth_ - 1]; }
    // Past child path_[level].i of branch path_[level].n, to the start of
    // the next subtree (pending), or to the end.
    void advance(std::size_t level) noexcept {
      for (;;) {
        depth_ = level + 1;
        if (++path_[level].i < Access::count(path_[level].n)) return;
        if (level == 0) {
          depth_ = 0;
          return;
        }
        --level;
      }
    }

    frame path_[Access::max_height + 2] = {};
    std::size_t depth_ = 0;
  };

  // The walk is memory-bound: the nodes a change copied lie anywhere in
  // memory. Two branches entered side by side mostly differ in a few
  // children, which the walk will read next: they are fetched together.
  static void prefetch_differing_children(const node* x, const node* y) noexcept {
    const std::size_t n = std::min(Access::count(x), Access::count(y));
    for (std::size_t i = 0; i < n; ++i) {
      const node* cx = Access::child(x, i);
      const node* cy = Access::child(y, i);
      if (cx == cy) continue;
      Access::nodes::prefetch_child(cx, x);
      Access::nodes::prefetch_child(cy, y);
    }
  }

  // Where `c` stands before a subtree and `leaf_side` at the start of a
  // leaf: goes down `c` towards leaf height, skipping both when the leaf
  // is the same node. Returns whether it moved either.
  static bool skip_leaf_against_pending(cursor& c, cursor& leaf_side) {
    if (!c.pending() || !leaf_side.at_leaf_start()) return false;
    if (c.upcoming_height() > 0) {
      c.enter();
    } else if (c.upcoming() == leaf_side.leaf()) {
      c.skip_upcoming();
      leaf_side.skip_leaf();
    } else {
      c.enter();
    }
    return true;
  }

  static bool same_value(const cursor& a, const cursor& b) {
    if constexpr (!has_values) {
      return true;
    } else {
      using V = std::remove_cvref_t<decltype(Access::values(nullptr)[0])>;
      if constexpr (std::equality_comparable<V>) {
        return Access::values(a.leaf())[a.index()] == Access::values(b.leaf())[b.index()];
      } else {
        return false;
      }
    }
  }

  template <class Changed>
  static void report(const cursor& c, Changed& changed) {
    if constexpr (has_values) {
      changed(c.key(), Access::values(c.leaf())[c.index()]);
    } else {
      changed(c.key());
    }
  }
};

}  // namespace instadump::detail

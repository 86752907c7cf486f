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
    cursor a(before), b(now);
    std::uint64_t found = 0;
    while (!a.at_end() || !b.at_end()) {
      if (skip_shared(a, b)) continue;
      if (++found > limit) return false;
      if (b.at_end() || (!a.at_end() && less(a.key(), b.key()))) {
        erased(a.key());
        a.next();
      } else if (a.at_end() || less(b.key(), a.key())) {
        report(b, changed);
        b.next();
      } else {
        if (!same_value(a, b)) {
          report(b, changed);
        } else {
          --found;
        }
        a.next();
        b.next();
      }
    }
    return true;
  }

 private:
  using K = std::remove_cvref_t<decltype(Access::keys(nullptr)[0])>;
  static constexpr bool has_values = requires(const node* n) { Access::values(n); };

  static bool less(const K& x, const K& y) { return std::less<K>{}(x, y); }

  // A position in one tree: the path from the root to the current entry
  // (child index in each branch, entry index in the leaf).
  class cursor {
   public:
    explicit cursor(const node* root) {
      if (root) descend(root);
    }
    bool at_end() const noexcept { return depth_ == 0; }
    const node* leaf() const noexcept { return path_[depth_ - 1].n; }
    std::size_t index() const noexcept { return path_[depth_ - 1].i; }
    const K& key() const noexcept { return Access::keys(leaf())[index()]; }

    // The node of height `h` whose first entry is the current one, or null.
    const node* starting(std::size_t h) const noexcept {
      if (h >= depth_) return nullptr;
      for (std::size_t level = depth_ - 1 - h; level < depth_; ++level) {
        if (path_[level].i != 0) return nullptr;
      }
      return path_[depth_ - 1 - h].n;
    }
    // The height of the tallest node whose first entry is the current one.
    std::size_t tallest_starting() const noexcept {
      std::size_t h = 0;
      while (h + 1 < depth_ && path_[depth_ - 2 - h].i == 0) ++h;
      return path_[depth_ - 1].i == 0 ? h : 0;
    }
    void next() { advance(depth_ - 1); }
    // Moves past the whole node of height `h` that starts here.
    void skip(std::size_t h) {
      const std::size_t level = depth_ - 1 - h;
      depth_ = level + 1;
      path_[level].i = Access::count(path_[level].n) - 1;  // (its last entry or child: advance() leaves it)
      advance(level);
    }

   private:
    struct frame {
      const node* n;
      std::size_t i;
    };
    void descend(const node* n) {
      for (;;) {
        path_[depth_++] = {n, 0};
        if (Access::is_leaf(n)) return;
        n = Access::child(n, 0);
      }
    }
    // Past entry or child path_[level].i of path_[level].n, to the next entry.
    void advance(std::size_t level) {
      depth_ = level + 1;
      for (;;) {
        frame& f = path_[depth_ - 1];
        if (++f.i < Access::count(f.n)) {
          if (!Access::is_leaf(f.n)) descend(Access::child(f.n, f.i));
          return;
        }
        if (--depth_ == 0) return;
      }
    }

    frame path_[Access::max_height + 2] = {};
    std::size_t depth_ = 0;
  };

  // Skips, in both cursors, the tallest node that starts at both and is the
  // same node; returns whether there was one.
  static bool skip_shared(cursor& a, cursor& b) {
    if (a.at_end() || b.at_end() || a.index() != 0 || b.index() != 0) return false;
    for (std::size_t h = a.tallest_starting() + 1; h-- > 0;) {
      const node* n = a.starting(h);
      if (n && n == b.starting(h)) {
        a.skip(h);
        b.skip(h);
        return true;
      }
    }
    return false;
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

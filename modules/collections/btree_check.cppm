// btree_check: the B+-tree's invariants, checked.
//
// Nodes built from stored bytes are checked one at a time as they are built
// (check_leaf, check_branch; see btree_access.cppm), so that a damaged
// store is reported, never misread. check_tree walks a whole tree and checks
// everything at once; the tests run it after every change.
module;
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
export module instadump:btree_check;
import :pnode;
import :btree_nodes;

export namespace instadump::detail {

template <class K, class V>
struct btree_check {
  using nodes = btree_nodes<K, V>;

  // What is wrong with a new leaf of these keys ("" if nothing): the count
  // is out of bounds, or the keys are not strictly increasing.
  static std::string check_leaf(const K* keys, std::size_t count) {
    if (count == 0 || count > nodes::leaf_max) {
      return "a leaf has " + std::to_string(count) + " entries (allowed: 1 to " + std::to_string(nodes::leaf_max) + ")";
    }
    for (std::size_t i = 1; i < count; ++i) {
      if (!nodes::less(keys[i - 1], keys[i])) {
        return "the keys of a leaf are not strictly increasing (entry " + std::to_string(i) + " of " +
               std::to_string(count) + ")";
      }
    }
    return {};
  }

  // What is wrong with a new branch over these children ("" if nothing):
  // a count out of bounds, a child under half full, children of different
  // heights, a tree too high, keys that do not increase from one child to
  // the next, or sizes that overflow.
  static std::string check_branch(const node_header* const* children, std::size_t count) {
    if (count < 2 || count > nodes::branch_max) {
      return "a branch has " + std::to_string(count) + " children (allowed: 2 to " + std::to_string(nodes::branch_max) +
             ")";
    }
    std::size_t height = children[0]->height;
    if (height + 1 > nodes::max_height) return "a branch is at height " + std::to_string(height + 1) + " (too high)";
    std::uint64_t size = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const node_header* c = children[i];
      if (c->height != height) {
        return "the children of a branch are at different heights (" + std::to_string(height) + " and " +
               std::to_string(c->height) + ")";
      }
      std::size_t least = height == 0 ? nodes::leaf_min : nodes::branch_min;
      if (c->count < least) {
        return "child " + std::to_string(i) + " of a branch has " + std::to_string(c->count) + " " +
               (height == 0 ? "entries" : "children") + " (at least " + std::to_string(least) + " needed)";
      }
      if (i > 0 && !nodes::less(nodes::last_key(children[i - 1]), nodes::first_key(c))) {
        return "the keys of child " + std::to_string(i) + " of a branch are not above those of the child before it";
      }
      if (size + c->size < size) return "the sizes of a branch's children overflow";
      size += c->size;
    }
    return {};
  }

  // Every invariant of the tree `root` (null: empty), or "" if all hold.
  static std::string check_tree(const node_header* root) {
    if (!root) return {};
    if (root->height == 0 && root->count == 0) return "the root leaf is empty";
    if (root->height > 0 && root->count < 2) return "the root branch has fewer than two children";
    return check_subtree(root, nullptr, nullptr, true);
  }

 private:
  // Checks `n` and everything under it; all its keys must be in [lo, hi)
  // (an absent bound: no limit).
  static std::string check_subtree(const node_header* n, const K* lo, const K* hi, bool is_root) {
    if (n->refs.load(std::memory_order_relaxed) == 0) return "a reachable node has no holder";
    if (n->height == 0) {
      const auto* l = nodes::as_leaf(n);
      if (!is_root && l->count < nodes::leaf_min) return "a leaf is under half full";
      if (std::string e = check_leaf(l->keys.data(), l->count); !e.empty()) return e;
      if (lo && nodes::less(l->keys[0], *lo)) return "a leaf has a key below its separator";
      if (hi && !nodes::less(l->keys[l->count - 1], *hi)) return "a leaf has a key not below its separator";
      if (n->size != n->count) return "a leaf's size is not its entry count";
      return {};
    }
    const auto* b = nodes::as_branch(n);
    if (!is_root && b->count < nodes::branch_min) return "a branch is under half full";
    if (b->count > nodes::branch_max) return "a branch has too many children";
    std::uint64_t size = 0;
    for (std::uint16_t i = 0; i < b->count; ++i) {
      const node_header* c = b->children[i];
      if (c->height + 1 != b->height) return "a child's height is not one below its branch's";
      if (i > 0 && i + 1u < b->count && !nodes::less(b->keys[i - 1], b->keys[i])) {
        return "a branch's separators are not strictly increasing";
      }
      const K* clo = i > 0 ? &b->keys[i - 1] : lo;
      const K* chi = i + 1u < b->count ? &b->keys[i] : hi;
      if (std::string e = check_subtree(c, clo, chi, false); !e.empty()) return e;
      size += c->size;
    }
    if (size != n->size) return "a branch's size is not the sum of its children's";
    return {};
  }
};

}  // namespace instadump::detail

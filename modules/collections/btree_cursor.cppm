// btree_cursor: a position in a B+-tree, for the iterators of pmap and pset.
//
// Nodes have no parent or sibling links (a node is shared by many trees, so
// it has no one parent), so a cursor keeps the path from the root: the
// branches above its leaf and the child taken in each. Moving to the next
// entry is a step inside the leaf, and at a leaf's end a climb to the
// lowest branch with a child to the right and a descent to its leftmost
// leaf. A cursor does not hold the tree: it is valid while the value it came
// from (or any tree sharing those nodes) is alive and unchanged.
module;
#include <cstddef>
#include <cstdint>
export module instadump:btree_cursor;
import :pnode;
import :btree_nodes;

export namespace instadump::detail {

template <class K, class V>
class btree_cursor {
  using nodes = btree_nodes<K, V>;
  using leaf = typename nodes::leaf;
  using branch = typename nodes::branch;

 public:
  // The end position (past the last entry of any tree).
  btree_cursor() noexcept = default;

  // The first entry of the tree `root` (end if it is empty).
  void seek_first(const node_header* root) noexcept {
    clear();
    if (root) descend_leftmost(root);
  }

  // The first entry whose key is not below `key` (upper: above `key`).
  void seek(const node_header* root, const K& key, bool upper) {
    clear();
    if (!root) return;
    const node_header* n = root;
    while (n->height != 0) {
      const branch* b = nodes::as_branch(n);
      std::uint16_t i = nodes::child_index(b, key);
      up_[depth_] = b;
      at_[depth_++] = i;
      n = b->children[i];
    }
    leaf_ = nodes::as_leaf(n);
    pos_ = upper ? nodes::upper_index(leaf_, key) : nodes::lower_index(leaf_, key);
    // Every key to the right of this leaf is above `key`: if the leaf has
    // none that qualifies, the answer is the next leaf's first entry.
    if (pos_ == leaf_->count) next_leaf();
  }

  // REQUIRES: not at the end.
  void next() noexcept {
    if (++pos_ < leaf_->count) return;
    next_leaf();
  }

  bool at_end() const noexcept { return leaf_ == nullptr; }
  // REQUIRES: not at the end (for both).
  const K& key() const noexcept { return leaf_->keys[pos_]; }
  const V& value() const noexcept
    requires nodes::has_values
  {
    return leaf_->values[pos_];
  }

  friend bool operator==(const btree_cursor& a, const btree_cursor& b) noexcept {
    return a.leaf_ == b.leaf_ && a.pos_ == b.pos_;
  }

 private:
  void clear() noexcept {
    depth_ = 0;
    leaf_ = nullptr;
    pos_ = 0;
  }

  void descend_leftmost(const node_header* n) noexcept {
    while (n->height != 0) {
      up_[depth_] = nodes::as_branch(n);
      at_[depth_++] = 0;
      n = nodes::as_branch(n)->children[0];
    }
    leaf_ = nodes::as_leaf(n);
    pos_ = 0;
  }

  // Moves to the first entry of the leaf after this one (end if none).
  void next_leaf() noexcept {
    while (depth_ > 0) {
      std::size_t d = depth_ - 1u;
      if (at_[d] + 1u < up_[d]->count) {
        ++at_[d];
        descend_leftmost(up_[d]->children[at_[d]]);
        return;
      }
      --depth_;
    }
    clear();
  }

  const branch* up_[nodes::max_height] = {};
  std::uint16_t at_[nodes::max_height] = {};
  std::uint8_t depth_ = 0;
  const leaf* leaf_ = nullptr;
  std::uint16_t pos_ = 0;
};

}  // namespace instadump::detail

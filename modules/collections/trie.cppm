// trie: the value behind pvector (trie root, tail, size) and its changes.
//
// Every change is made to a value the caller owns: it changes in place the
// nodes only that value holds (a whole path from the root) and copies the
// first shared node it meets and everything below it on its path, sharing
// the rest. A pvector changes a copy of itself (which shares every node, so
// nothing is changed in place); a transient or an rvalue changes itself. As
// in the B+-tree, the copies are built before any node is changed in place,
// so an exception leaves the value as it was; a node changed in place gets
// stored tag 0.
module;
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>
export module instadump:trie;
import :pnode;
import :trie_nodes;

export namespace instadump::detail {

template <class T>
class trie_value {
  using nodes = trie_nodes<T>;
  using leaf = typename nodes::leaf;
  using branch = typename nodes::branch;
  using ref = node_ref<nodes>;
  static constexpr unsigned bits = nodes::bits;
  static constexpr bool assign_cannot_throw = std::is_nothrow_move_assignable_v<T>;

 public:
  trie_value() noexcept = default;
  // Takes over the caller's holds on `root` and `tail`.
  trie_value(node_header* root, node_header* tail, std::uint64_t size) noexcept
      : root_(root), tail_(tail), size_(size) {}
  trie_value(const trie_value& o) noexcept : root_(o.root_), tail_(o.tail_), size_(o.size_) {
    if (root_) hold(root_);
    if (tail_) hold(tail_);
  }
  trie_value(trie_value&& o) noexcept
      : root_(std::exchange(o.root_, nullptr)), tail_(std::exchange(o.tail_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  trie_value& operator=(trie_value o) noexcept {
    swap(o);
    return *this;
  }
  ~trie_value() {
    if (root_) nodes::release(root_);
    if (tail_) nodes::release(tail_);
  }
  void swap(trie_value& o) noexcept {
    std::swap(root_, o.root_);
    std::swap(tail_, o.tail_);
    std::swap(size_, o.size_);
  }

  std::uint64_t size() const noexcept { return size_; }
  node_header* root() const noexcept { return root_; }
  node_header* tail() const noexcept { return tail_; }
  // Index of the tail's first element: the trie holds [0, tail_offset()).
  std::uint64_t tail_offset() const noexcept { return size_ - (tail_ ? tail_->count : 0u); }

  // The elements of the leaf that holds element i (i < size(); or any i at
  // or past the tail's start, for an end position).
  const T* items_for(std::uint64_t i) const noexcept { return items_for(root_, tail_, tail_offset(), i); }
  // The same for a trie and tail not owned by a trie_value (iterators).
  static const T* items_for(const node_header* root, const node_header* tail, std::uint64_t tail_offset,
                            std::uint64_t i) noexcept {
    const leaf* l = i >= tail_offset ? nodes::as_leaf(tail) : nodes::leaf_at(root, i);
    return l ? l->items.data() : nullptr;
  }
  // REQUIRES: i < size().
  const T& get(std::uint64_t i) const noexcept { return items_for(i)[i & nodes::mask]; }

  // Appends an element constructed from `x`.
  void push_back(T&& x) {
    if (tail_ && tail_->count < nodes::width) {
      if (held_once(tail_)) {
        leaf* t = nodes::as_leaf(tail_);
        ::new (static_cast<void*>(t->items.data() + t->count)) T(std::move(x));
        ++t->count;
        ++t->size;
        t->stored_tag.store(0, std::memory_order_relaxed);
      } else {
        typename nodes::leaf_builder b;
        b.copy(nodes::as_leaf(tail_), 0, tail_->count);
        b.add(std::move(x));
        replace(tail_, b.finish());
      }
      ++size_;
      return;
    }
    typename nodes::leaf_builder b;
    b.add(std::move(x));
    ref fresh = ref::adopt(b.finish());
    if (tail_) {  // the full tail moves into the trie
      node_header* root = with_leaf(root_, tail_offset(), tail_);
      if (root != root_) replace(root_, root);
      nodes::release(tail_);
    }
    tail_ = fresh.release();
    ++size_;
  }

  // Removes the last element. REQUIRES: size() > 0.
  void pop_back() {
    if (tail_->count > 1) {
      if (held_once(tail_)) {
        leaf* t = nodes::as_leaf(tail_);
        --t->count;
        --t->size;
        t->items[t->count].~T();
        t->stored_tag.store(0, std::memory_order_relaxed);
      } else {
        typename nodes::leaf_builder b;
        b.copy(nodes::as_leaf(tail_), 0, tail_->count - 1u);
        replace(tail_, b.finish());
      }
      --size_;
      return;
    }
    // The tail's only element goes; the trie's last leaf becomes the tail.
    node_header* last = nullptr;
    node_header* root = nullptr;
    if (root_) {
      std::uint64_t count = tail_offset();
      last = const_cast<leaf*>(nodes::leaf_at(root_, count - 1));
      root = shorter(root_, count);
      hold(last);
    }
    if (root_) nodes::release(root_);
    root_ = root;
    nodes::release(tail_);
    tail_ = last;
    --size_;
  }

  // Element i becomes `x`. REQUIRES: i < size().
  void assign(std::uint64_t i, T&& x) {
    if (i >= tail_offset()) {
      std::uint64_t j = i - tail_offset();
      if (assign_cannot_throw && held_once(tail_)) {
        nodes::as_leaf(tail_)->items[j] = std::move(x);
        tail_->stored_tag.store(0, std::memory_order_relaxed);
      } else {
        replace(tail_, with_item(nodes::as_leaf(tail_), j, x));
      }
      return;
    }
    if (node_header* root = assigned(root_, i, x, true)) replace(root_, root);
  }

 private:
  // `slot` (one of ours, or null) becomes `fresh` (one hold, taken over).
  static void replace(node_header*& slot, node_header* fresh) noexcept {
    if (slot) nodes::release(slot);
    slot = fresh;
  }

  // A copy of leaf `l` with element j replaced by `x` (moved).
  static node_header* with_item(const leaf* l, std::uint64_t j, T& x) {
    typename nodes::leaf_builder b;
    b.copy(l, 0, j);
    b.add(std::move(x));
    b.copy(l, j + 1, l->count);
    return b.finish();
  }

  // `leaf` (held by the caller) wrapped in single-child branches up to
  // height h; one hold for the caller, plus a new hold on `leaf`.
  static ref path_to(node_header* leaf_node, unsigned h) {
    hold(leaf_node);
    ref n = ref::adopt(leaf_node);
    for (unsigned k = 1; k <= h; ++k) {
      typename nodes::branch_builder b(static_cast<std::uint8_t>(k));
      b.adopt(n.release());
      n = ref::adopt(b.finish());
    }
    return n;
  }

  // The trie `root` (of `count` elements) with the full leaf `leaf_node`
  // (held by the caller) appended. Returns `root` itself if it was changed
  // in place, else a new root with one hold for the caller.
  static node_header* with_leaf(node_header* root, std::uint64_t count, node_header* leaf_node) {
    if (!root) return path_to(leaf_node, 0).release();
    if (count == nodes::capacity(root->height)) {  // full: a new root over it and a new path
      ref path = path_to(leaf_node, root->height);
      typename nodes::branch_builder b(static_cast<std::uint8_t>(root->height + 1));
      hold(root);
      b.adopt(root);
      b.adopt(path.release());
      return b.finish();
    }
    node_header* r = appended(root, count, leaf_node, true);
    return r ? r : root;
  }

  // Subtree `n` (height >= 1, `count` elements, not full) with the full
  // leaf appended. Null if `n` was changed in place (allowed when
  // `in_place` and every node from the root to here has one holder), else
  // the new subtree with one hold for the caller.
  static node_header* appended(node_header* n, std::uint64_t count, node_header* leaf_node, bool in_place) {
    in_place = in_place && held_once(n);
    unsigned h = n->height;
    std::uint16_t i = static_cast<std::uint16_t>((count >> (bits * h)) & nodes::mask);
    ref child;  // the new child i (null: child i was changed in place)
    if (h == 1) {
      child = ref::share(leaf_node);
    } else if (i == n->count) {
      child = path_to(leaf_node, h - 1);
    } else {
      child = ref::adopt(appended(nodes::as_branch(n)->children[i], count - i * nodes::capacity(h - 1), leaf_node, in_place));
    }
    if (in_place) {
      branch* b = nodes::as_branch(n);
      if (child) {
        if (i == n->count) {
          ++n->count;
        } else {
          nodes::release(b->children[i]);
        }
        b->children[i] = child.release();
      }
      n->size += nodes::width;
      n->stored_tag.store(0, std::memory_order_relaxed);
      return nullptr;
    }
    typename nodes::branch_builder b(static_cast<std::uint8_t>(h));
    b.copy(nodes::as_branch(n), 0, i);
    b.adopt(child.release());
    b.copy(nodes::as_branch(n), i + 1u, n->count);
    return b.finish();
  }

  // Subtree `n` (`count` elements) without its last leaf: null if that was
  // all it had, else a new subtree with one hold for the caller (a root of
  // one child is replaced by the child).
  static node_header* shorter(node_header* n, std::uint64_t count) {
    ref r = ref::adopt(shorter_subtree(n, count));
    while (r && r.get()->height > 0 && r.get()->count == 1) r = ref::share(nodes::as_branch(r.get())->children[0]);
    return r.release();
  }
  static node_header* shorter_subtree(node_header* n, std::uint64_t count) {
    if (n->height == 0) return nullptr;
    std::uint16_t last = static_cast<std::uint16_t>(n->count - 1);
    const branch* b = nodes::as_branch(n);
    ref child;
    if (n->height > 1) {
      child = ref::adopt(shorter_subtree(b->children[last], count - last * nodes::capacity(n->height - 1u)));
    }
    if (!child && last == 0) return nullptr;
    typename nodes::branch_builder out(n->height);
    out.copy(b, 0, last);
    if (child) out.adopt(child.release());
    return out.finish();
  }

  // Subtree `n` with element i replaced by `x`: null if changed in place,
  // else a new subtree with one hold for the caller.
  static node_header* assigned(node_header* n, std::uint64_t i, T& x, bool in_place) {
    in_place = in_place && assign_cannot_throw && held_once(n);
    if (n->height == 0) {
      if (!in_place) return with_item(nodes::as_leaf(n), i & nodes::mask, x);
      nodes::as_leaf(n)->items[i & nodes::mask] = std::move(x);
      n->stored_tag.store(0, std::memory_order_relaxed);
      return nullptr;
    }
    branch* b = nodes::as_branch(n);
    std::uint16_t c = static_cast<std::uint16_t>((i >> (bits * n->height)) & nodes::mask);
    ref child = ref::adopt(assigned(b->children[c], i, x, in_place));
    if (in_place) {
      if (child) replace(b->children[c], child.release());
      n->stored_tag.store(0, std::memory_order_relaxed);
      return nullptr;
    }
    typename nodes::branch_builder out(n->height);
    out.copy(b, 0, c);
    out.adopt(child.release());
    out.copy(b, c + 1u, n->count);
    return out.finish();
  }

  node_header* root_ = nullptr;  // the trie of full leaves, or null
  node_header* tail_ = nullptr;  // the last 1..width elements; null iff size_ == 0
  std::uint64_t size_ = 0;
};

}  // namespace instadump::detail

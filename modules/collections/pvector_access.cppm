// pvector_access: the persistence layer's view of pvector nodes.
//
// Not for applications; the same protocol as btree_access.cppm (visit from
// root() and tail(), skip nodes with a stored tag, set tags after writing;
// load by building leaves and branches bottom-up and assemble()), for the
// trie of trie_nodes.cppm: every leaf of the trie is full, every branch
// not on the rightmost path is full, and a root branch has two or more
// children. Everything given to the builders is checked; a damaged store
// throws instadump::corrupt_data.
module;
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>

#include "common/errors.h"
export module instadump:pvector_access;
import :pnode;
import :trie_nodes;
import :trie;
import :pvector;

export namespace instadump::detail {

template <class T>
struct pvector_access : node_inspection {
  using nodes = trie_nodes<T>;
  using node_ref = detail::node_ref<nodes>;

  // Elements per leaf and children per branch, at most.
  static constexpr std::size_t width = nodes::width;
  static constexpr std::size_t max_height = nodes::max_height;

  // --- visiting (and node_inspection's) ---

  // The trie of full leaves: every element but the tail's (null if the
  // tail holds them all).
  static const node* root(const pvector<T>& v) noexcept { return v.v_.root(); }
  // The leaf of the last 1..width elements (null if the vector is empty).
  static const node* tail(const pvector<T>& v) noexcept { return v.v_.tail(); }
  // REQUIRES: a branch, i < count(n).
  static const node* child(const node* n, std::size_t i) noexcept { return nodes::as_branch(n)->children[i]; }
  // A leaf's elements. REQUIRES: a leaf.
  static std::span<const T> items(const node* n) noexcept { return {nodes::as_leaf(n)->items.data(), n->count}; }

  // --- building ---

  // Fills one leaf straight from decoded data; throws corrupt_data when a
  // `width + 1`th element is added, and from finish() if there is none.
  class leaf_builder {
   public:
    void add(T item) {
      if (b_.count() == nodes::width) {
        throw corrupt_data("a stored vector leaf has more than " + std::to_string(nodes::width) + " elements");
      }
      b_.add(std::move(item));
    }
    node_ref finish() && {
      if (b_.count() == 0) throw corrupt_data("a stored vector leaf has no elements");
      return node_ref::adopt(b_.finish());
    }

   private:
    typename nodes::leaf_builder b_;
  };

  static node_ref make_leaf(std::span<const T> items) {
    leaf_builder b;
    for (const T& x : items) b.add(x);
    return std::move(b).finish();
  }

  // A branch over `children` (each gets one more hold). Throws corrupt_data
  // unless there are 1..width children of one height, all but the last full.
  static node_ref make_branch(std::span<const node_ref> children) {
    std::size_t n = children.size();
    if (n == 0 || n > nodes::width) {
      throw corrupt_data("a stored vector branch has " + std::to_string(n) + " children (allowed: 1 to " +
                         std::to_string(nodes::width) + ")");
    }
    for (const node_ref& c : children) {
      if (!c) throw corrupt_data("a stored vector branch has a missing child");
    }
    unsigned h = children[0].get()->height;
    if (h + 1 > nodes::max_height) throw corrupt_data("a stored vector branch is too high");
    for (std::size_t i = 0; i < n; ++i) {
      const node_header* c = children[i].get();
      if (c->height != h) throw corrupt_data("the children of a stored vector branch are at different heights");
      if (i + 1 < n && c->size != nodes::capacity(h)) {
        throw corrupt_data("child " + std::to_string(i) + " of a stored vector branch is not full");
      }
    }
    typename nodes::branch_builder b(static_cast<std::uint8_t>(h + 1));
    for (const node_ref& c : children) b.adopt(node_ref(c).release());
    return node_ref::adopt(b.finish());
  }

  // The vector of `root` (null if all elements are in the tail) and `tail`
  // (null if it is empty), which must hold `size` elements together.
  static pvector<T> assemble(node_ref root, node_ref tail, std::uint64_t size) {
    if (std::string e = check_shape(root.get(), tail.get(), size); !e.empty()) throw corrupt_data("stored data: " + e);
    return pvector<T>(trie_value<T>(root.release(), tail.release(), size));
  }

  // The first broken invariant of the vector, or "" (for tests).
  static std::string check(const pvector<T>& v) {
    if (std::string e = check_shape(root(v), tail(v), v.size()); !e.empty()) return e;
    return v.v_.root() ? check_subtree(v.v_.root(), true) : std::string();
  }

 private:
  // The root and tail as a whole (their insides were checked as they were built).
  static std::string check_shape(const node_header* root, const node_header* tail, std::uint64_t size) {
    if (!tail) return size == 0 && !root ? "" : "a vector of " + std::to_string(size) + " elements has no tail";
    if (tail->height != 0 || tail->count == 0) return "a vector's tail is not a leaf of elements";
    if (tail->count > size) return "a vector's tail holds more elements than the vector";
    std::uint64_t in_trie = size - tail->count;
    if (!root) return in_trie == 0 ? "" : "a vector of " + std::to_string(size) + " elements has no trie";
    if (root->size != in_trie) {
      return "a vector's trie holds " + std::to_string(root->size) + " elements instead of " + std::to_string(in_trie);
    }
    if (in_trie % nodes::width != 0) return "a vector's trie has a leaf that is not full";
    if (root->height > 0 && root->count < 2) return "a vector's trie root has one child";
    return {};
  }

  static std::string check_subtree(const node_header* n, bool last) {
    if (n->height == 0) return n->count == nodes::width && n->size == n->count ? "" : "a trie leaf is not full";
    if (n->count == 0 || n->count > nodes::width) return "a trie branch has a bad child count";
    std::uint64_t size = 0;
    for (std::uint16_t i = 0; i < n->count; ++i) {
      const node_header* c = nodes::as_branch(n)->children[i];
      bool is_last = last && i + 1u == n->count;
      if (c->height + 1 != n->height) return "a trie child's height is not one below its branch's";
      if (!is_last && c->size != nodes::capacity(c->height)) return "a trie subtree off the rightmost path is not full";
      if (std::string e = check_subtree(c, is_last); !e.empty()) return e;
      size += c->size;
    }
    return size == n->size ? "" : "a trie branch's size is not the sum of its children's";
  }
};

}  // namespace instadump::detail

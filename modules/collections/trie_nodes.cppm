// trie_nodes: the nodes of the persistent vector trie behind pvector.
//
// A pvector of n elements keeps its last 1..width elements in a "tail" leaf
// and the others in a trie of full leaves (Clojure's design): element i of
// the trie is found by taking `bits` bits of i per level, most significant
// first, so a lookup is a few shifts and loads and no comparison. Every leaf
// of the trie is full; every branch is full except those on the rightmost
// path. A trie of one leaf is that leaf; the root of a bigger one is a
// branch of two or more children.
module;
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
export module instadump:trie_nodes;
import :pnode;

export namespace instadump::detail {

// Node width of the trie behind pvector<T>: 2^width_bits elements per leaf
// and children per branch. Part of the storage contract (a stored leaf holds
// at most that many elements). Tests specialize it for their own element
// types to get deep tries from few elements.
template <class T>
struct pvector_limits {
  static constexpr unsigned width_bits = 5;
};

template <class T>
struct trie_nodes {
  static constexpr unsigned bits = pvector_limits<T>::width_bits;
  static_assert(bits >= 1 && bits <= 6, "pvector_limits: width_bits must be 1..6");
  static constexpr std::uint16_t width = std::uint16_t{1} << bits;
  static constexpr std::uint64_t mask = width - 1u;
  // A root of height h covers width^(h + 1) elements; past this height that
  // exceeds 2^64.
  static constexpr std::size_t max_height = (64 + bits - 1) / bits - 1;

  struct leaf : node_header {
    slots<T, width> items;
  };
  struct branch : node_header {
    node_header* children[width];
  };

  static leaf* as_leaf(node_header* n) noexcept { return static_cast<leaf*>(n); }
  static const leaf* as_leaf(const node_header* n) noexcept { return static_cast<const leaf*>(n); }
  static branch* as_branch(node_header* n) noexcept { return static_cast<branch*>(n); }
  static const branch* as_branch(const node_header* n) noexcept { return static_cast<const branch*>(n); }

  // Elements under a full node of height h: width^(h + 1).
  static constexpr std::uint64_t capacity(unsigned h) noexcept {
    return (h + 1) * bits >= 64 ? UINT64_MAX : std::uint64_t{1} << ((h + 1) * bits);
  }

  static void release(node_header* n) noexcept {
    if (drop(n)) destroy(n);
  }
  static void destroy(node_header* n) noexcept {
    if (n->height == 0) {
      leaf* l = as_leaf(n);
      std::destroy_n(l->items.data(), l->count);
      delete l;
    } else {
      branch* b = as_branch(n);
      for (std::uint16_t i = 0; i < b->count; ++i) release(b->children[i]);
      delete b;
    }
  }

  // The leaf of the trie `root` that holds element `i`. REQUIRES: i is
  // below the trie's element count.
  static const leaf* leaf_at(const node_header* n, std::uint64_t i) noexcept {
    while (n->height != 0) n = as_branch(n)->children[(i >> (bits * n->height)) & mask];
    return as_leaf(n);
  }

  // Fills a new leaf; abandoned, it destroys what it has.
  class leaf_builder {
   public:
    leaf_builder() : n_(new leaf) {}
    ~leaf_builder() {
      if (n_) destroy(n_);
    }
    leaf_builder(const leaf_builder&) = delete;
    leaf_builder& operator=(const leaf_builder&) = delete;

    std::uint16_t count() const noexcept { return n_->count; }
    // Appends copies of `src`'s elements [from, to).
    void copy(const leaf* src, std::size_t from, std::size_t to) {
      if (from >= to) return;
      std::uninitialized_copy_n(src->items.data() + from, to - from, n_->items.data() + n_->count);
      n_->count = static_cast<std::uint16_t>(n_->count + (to - from));
    }
    template <class... Args>
    void add(Args&&... args) {
      ::new (static_cast<void*>(n_->items.data() + n_->count)) T(std::forward<Args>(args)...);
      ++n_->count;
    }
    node_header* finish() noexcept {
      n_->size = n_->count;
      return std::exchange(n_, nullptr);
    }

   private:
    leaf* n_;
  };

  // Fills a new branch. Owns every child it was given (shared ones with a
  // new hold, adopted ones with the caller's); abandoned, it releases them.
  class branch_builder {
   public:
    explicit branch_builder(std::uint8_t height) : n_(new branch) { n_->height = height; }
    ~branch_builder() {
      if (n_) destroy(n_);
    }
    branch_builder(const branch_builder&) = delete;
    branch_builder& operator=(const branch_builder&) = delete;

    // Appends children [from, to) of `src`, with a new hold on each.
    void copy(const branch* src, std::size_t from, std::size_t to) noexcept {
      if (from >= to) return;
      hold_all(src->children + from, to - from);
      for (std::size_t i = from; i < to; ++i) push(src->children[i]);
    }
    // Appends `child`, taking over the caller's hold.
    void adopt(node_header* child) noexcept { push(child); }
    node_header* finish() noexcept { return std::exchange(n_, nullptr); }

   private:
    void push(node_header* child) noexcept {
      n_->children[n_->count++] = child;
      n_->size += child->size;
    }
    branch* n_;
  };
};

}  // namespace instadump::detail

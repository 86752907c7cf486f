// pnode: the node machinery shared by the persistent collections.
//
// A pmap, pset or pvector is a tree of heap nodes, each starting with a
// node_header: an intrusive atomic reference count (how many parents,
// values, transients and node_refs hold the node), the "stored tag" the
// persistence layer sets once it has written the node, and the node's shape.
// A node is immutable while more than one holder can reach it, so any
// number of threads may read a shared node; it is freed by whichever holder
// lets go last. A node with a single holder that is itself uniquely held
// (a whole path from a value's root) may be changed in place.
module;
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>
export module instadump:pnode;
import :node_memory;

export namespace instadump::detail {

// The first member of every collection node.
struct node_header {
  // Holders of this node. Starts at 1: the creator's hold.
  std::atomic<std::uint32_t> refs{1};
  // Entries of a leaf, children of a branch.
  std::uint16_t count = 0;
  // 0 for a leaf; a branch is one higher than its children.
  std::uint8_t height = 0;
  std::uint8_t reserved = 0;
  // The persistence layer's mark: 0 means "never stored"; any other value
  // is opaque to the collections (the storage layer packs a store epoch and
  // a chunk id into it) and says "this node, with exactly this content, is
  // stored". New nodes have 0, and a node changed in place goes back to 0.
  // Read and written with relaxed atomics from any thread.
  std::atomic<std::uint64_t> stored_tag{0};
  // Entries (elements) in the subtree below and including this node.
  std::uint64_t size = 0;

  // Nodes (leaves and branches derive from node_header) come from the
  // calling thread's cache of freed nodes (node_memory.cppm).
  static void* operator new(std::size_t size) { return collection_node_cache::allocate(size); }
  static void operator delete(void* p, std::size_t size) noexcept { collection_node_cache::free(p, size); }
  static void* operator new(std::size_t size, std::align_val_t align) { return ::operator new(size, align); }
  static void operator delete(void* p, std::size_t size, std::align_val_t align) noexcept {
    ::operator delete(p, size, align);
  }
};

// Takes one more hold on `n`. The caller must already hold it (directly or
// through a value that does), which is why a relaxed increment suffices.
inline void hold(node_header* n) noexcept { n->refs.fetch_add(1, std::memory_order_relaxed); }

// Gives up one hold on `n`; returns true if it was the last one, in which
// case the caller must destroy the node. When the count is 1 the caller is
// the only holder and nobody can take a new hold (that needs a holder), so
// the atomic read-modify-write is skipped: freeing a path of uniquely held
// nodes costs plain loads.
inline bool drop(node_header* n) noexcept {
  if (n->refs.load(std::memory_order_acquire) == 1) return true;
  return n->refs.fetch_sub(1, std::memory_order_acq_rel) == 1;
}

// Whether the caller's hold is the only one. Acquire: writes of former
// holders (which released with acq_rel) happen before the caller's in-place
// changes.
inline bool held_once(const node_header* n) noexcept { return n->refs.load(std::memory_order_acquire) == 1; }

// Takes a hold on each of `nodes[0..n)`. The nodes are usually in different
// cache lines that the copying thread has not touched; a locked increment
// waits for its line, so prefetch all of them first and let the misses
// overlap instead of paying them one after the other.
inline void hold_all(node_header* const* nodes, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) __builtin_prefetch(nodes[i], 1, 3);
  for (std::size_t i = 0; i < n; ++i) hold(nodes[i]);
}

// What the persistence layer may ask of any collection node (the access
// APIs of pmap, pset and pvector derive from this).
struct node_inspection {
  using node = node_header;
  static bool is_leaf(const node* n) noexcept { return n->height == 0; }
  // 0 for a leaf; a branch is one above its children.
  static std::size_t height(const node* n) noexcept { return n->height; }
  // Entries of a leaf, children of a branch.
  static std::size_t count(const node* n) noexcept { return n->count; }
  // Entries (elements) under and in the node.
  static std::uint64_t subtree_size(const node* n) noexcept { return n->size; }
  // The node's stored tag: 0 if it has never been stored (or was changed
  // since), else the value the persistence layer set.
  static std::uint64_t stored_tag(const node* n) noexcept { return n->stored_tag.load(std::memory_order_relaxed); }
  static void set_stored_tag(const node* n, std::uint64_t tag) noexcept {
    const_cast<node*>(n)->stored_tag.store(tag, std::memory_order_relaxed);
  }
};

// Uninitialized room for N objects of type T inside a node; the node
// constructs and destroys them itself (it knows how many are alive).
template <class T, std::size_t N>
struct slots {
  alignas(T) unsigned char bytes[N * sizeof(T)];
  T* data() noexcept { return std::launder(reinterpret_cast<T*>(bytes)); }
  const T* data() const noexcept { return std::launder(reinterpret_cast<const T*>(bytes)); }
  T& operator[](std::size_t i) noexcept { return data()[i]; }
  const T& operator[](std::size_t i) const noexcept { return data()[i]; }
};

// An owning handle on one hold of a node. `Tree::release(node_header*)`
// gives the hold back (and destroys the node if it was the last).
template <class Tree>
class node_ref {
 public:
  node_ref() noexcept = default;
  // Takes over a hold the caller already has.
  static node_ref adopt(node_header* n) noexcept {
    node_ref r;
    r.n_ = n;
    return r;
  }
  // Takes a new hold on `n`.
  static node_ref share(node_header* n) noexcept {
    if (n) hold(n);
    return adopt(n);
  }
  node_ref(const node_ref& o) noexcept : n_(o.n_) {
    if (n_) hold(n_);
  }
  node_ref(node_ref&& o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
  node_ref& operator=(node_ref o) noexcept {
    std::swap(n_, o.n_);
    return *this;
  }
  ~node_ref() {
    if (n_) Tree::release(n_);
  }

  node_header* get() const noexcept { return n_; }
  explicit operator bool() const noexcept { return n_ != nullptr; }
  // Gives up ownership without dropping the hold; returns the node.
  node_header* release() noexcept { return std::exchange(n_, nullptr); }

 private:
  node_header* n_ = nullptr;
};

}  // namespace instadump::detail

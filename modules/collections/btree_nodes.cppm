// btree_nodes: the nodes of the persistent B+-tree behind pmap and pset.
//
// Leaves hold up to leaf_max sorted entries, keys and values in two arrays
// (searching reads only keys); branches hold up to branch_max children and
// the separators between them: keys[i] is the smallest key under
// children[i + 1] at the time the separator was made, so every key under
// children[i] is below keys[i] and every key under children[i + 1] is at
// least keys[i]. All leaves are at height 0 and every path from the root has
// the same length. Nodes other than the root are at least half full (the
// root: one entry, or two children).
//
// This file has the layouts, allocation, destruction, search within a node
// and the builders that fill new nodes; btree_edit.cppm changes trees,
// btree_cursor.cppm walks them, btree_build.cppm builds and checks them.
module;
#include <climits>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
export module instadump:btree_nodes;
import :pnode;

export namespace instadump::detail {

// The mapped type of a set's tree: nothing is stored for it.
struct no_value {
  friend bool operator==(no_value, no_value) noexcept { return true; }
};

// The `make` of a set's insert (see btree_edit::upsert).
struct make_no_value {
  no_value operator()(const no_value*) const noexcept { return {}; }
};

// Node capacities of the B+-tree behind pmap<K, V> and pset<K> (V =
// no_value). Part of the storage contract: a stored leaf holds at most
// leaf_capacity entries and a stored branch at most branch_capacity children,
// so a chunk holds about one node. Both must be even and at least 4. The
// defaults were chosen by measurement (bench/collections_bench.cpp); tests
// specialize this for their own key types to get deep trees from few entries.
template <class K, class V>
struct btree_limits {
  static constexpr std::size_t leaf_capacity = 16;
  static constexpr std::size_t branch_capacity = 8;
};

template <class K, class V>
struct btree_nodes {
  static constexpr bool has_values = !std::is_same_v<V, no_value>;
  static constexpr std::uint16_t leaf_max = btree_limits<K, V>::leaf_capacity;
  static constexpr std::uint16_t leaf_min = leaf_max / 2;
  static constexpr std::uint16_t branch_max = btree_limits<K, V>::branch_capacity;
  static constexpr std::uint16_t branch_min = branch_max / 2;
  static_assert(leaf_max >= 4 && leaf_max % 2 == 0 && leaf_max <= 4096, "btree_limits: bad leaf_capacity");
  static_assert(branch_max >= 4 && branch_max % 2 == 0 && branch_max <= 64, "btree_limits: bad branch_capacity");

  // The greatest height a tree can reach: beyond it the minimum number of
  // entries (a root of two children, every other node half full) exceeds
  // 2^64. Bounds cursors' stacks and what a loaded tree may claim.
  static constexpr std::size_t max_height = [] {
    unsigned __int128 least = 2 * static_cast<unsigned __int128>(leaf_min);  // entries at height 1
    std::size_t h = 0;
    while (least <= UINT64_MAX) {
      ++h;
      least *= branch_min;
    }
    return h;
  }();

  // In-place changes of a uniquely held leaf shift entries with moves; they
  // are used only when moving cannot throw (otherwise the tree is copied).
  static constexpr bool moves_cannot_throw =
      std::is_nothrow_move_constructible_v<K> && std::is_nothrow_move_assignable_v<K> &&
      (!has_values || (std::is_nothrow_move_constructible_v<V> && std::is_nothrow_move_assignable_v<V>));

  struct empty_slots {};
  struct leaf : node_header {
    slots<K, leaf_max> keys;
    [[no_unique_address]] std::conditional_t<has_values, slots<V, leaf_max>, empty_slots> values;
  };
  struct branch : node_header {
    node_header* children[branch_max];
    slots<K, branch_max - 1> keys;
  };

  static leaf* as_leaf(node_header* n) noexcept { return static_cast<leaf*>(n); }
  static const leaf* as_leaf(const node_header* n) noexcept { return static_cast<const leaf*>(n); }
  static branch* as_branch(node_header* n) noexcept { return static_cast<branch*>(n); }
  static const branch* as_branch(const node_header* n) noexcept { return static_cast<const branch*>(n); }

  static bool less(const K& a, const K& b) { return std::less<K>{}(a, b); }

  // --- prefetching ---

  // Starts loading the first `bytes` bytes of `n` into the cache. A node
  // spans several cache lines (a leaf of 16 records about 15); reading a
  // cold one line after line pays a miss per line in turn, while asking
  // for all of them first lets the misses overlap.
  static void prefetch(const node_header* n, std::size_t bytes) noexcept {
    const char* p = reinterpret_cast<const char*>(n);
    for (std::size_t at = 0; at < bytes; at += 64) __builtin_prefetch(p + at, 0, 3);
  }
  // The whole node (its height is that of `parent` minus one), for a copy.
  static void prefetch_child(const node_header* child, const node_header* parent) noexcept {
    prefetch(child, parent->height == 1 ? sizeof(leaf) : sizeof(branch));
  }
  // What a search reads of the node: a leaf's header and keys, a whole branch.
  static void prefetch_search(const node_header* child, const node_header* parent) noexcept {
    if (parent->height != 1) return prefetch(child, sizeof(branch));
    const char* keys_end = reinterpret_cast<const char*>(as_leaf(child)->keys.data() + leaf_max);
    prefetch(child, static_cast<std::size_t>(keys_end - reinterpret_cast<const char*>(child)));
  }

  // --- lifetime ---

  // Gives up one hold on `n` and destroys it if that was the last.
  static void release(node_header* n) noexcept {
    if (drop(n)) destroy(n);
  }

  // Destroys a node nobody holds any more, releasing its children.
  static void destroy(node_header* n) noexcept {
    if (n->height == 0) {
      leaf* l = as_leaf(n);
      std::destroy_n(l->keys.data(), l->count);
      if constexpr (has_values) std::destroy_n(l->values.data(), l->count);
      delete l;
    } else {
      branch* b = as_branch(n);
      std::destroy_n(b->keys.data(), b->count - 1);
      // As in hold_all: each release is a locked write to a child's line,
      // usually not in this core's cache; let the misses overlap.
      for (std::uint16_t i = 0; i < b->count; ++i) __builtin_prefetch(b->children[i], 1, 3);
      for (std::uint16_t i = 0; i < b->count; ++i) release(b->children[i]);
      delete b;
    }
  }

  // --- search ---

  // Index of the first key of the leaf not below `key` (count if none).
  static std::uint16_t lower_index(const leaf* l, const K& key) {
    const K* keys = l->keys.data();
    std::uint16_t lo = 0, hi = l->count;
    while (lo < hi) {
      std::uint16_t mid = static_cast<std::uint16_t>((lo + hi) / 2);
      if (less(keys[mid], key)) {
        lo = static_cast<std::uint16_t>(mid + 1);
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  // Index of the first key of the leaf above `key` (count if none).
  static std::uint16_t upper_index(const leaf* l, const K& key) {
    const K* keys = l->keys.data();
    std::uint16_t lo = 0, hi = l->count;
    while (lo < hi) {
      std::uint16_t mid = static_cast<std::uint16_t>((lo + hi) / 2);
      if (less(key, keys[mid])) {
        hi = mid;
      } else {
        lo = static_cast<std::uint16_t>(mid + 1);
      }
    }
    return lo;
  }

  // Whether leaf entry `i` (from lower_index) has exactly `key`.
  static bool is_at(const leaf* l, std::uint16_t i, const K& key) { return i < l->count && !less(key, l->keys[i]); }

  // The child of a branch whose range holds `key`: the number of separators
  // not above it.
  static std::uint16_t child_index(const branch* b, const K& key) {
    const K* keys = b->keys.data();
    std::uint16_t lo = 0, hi = static_cast<std::uint16_t>(b->count - 1);
    while (lo < hi) {
      std::uint16_t mid = static_cast<std::uint16_t>((lo + hi) / 2);
      if (less(key, keys[mid])) {
        hi = mid;
      } else {
        lo = static_cast<std::uint16_t>(mid + 1);
      }
    }
    return lo;
  }

  // The leaf whose range holds `key`.
  static const leaf* leaf_for(const node_header* n, const K& key) {
    while (n->height != 0) {
      const node_header* child = as_branch(n)->children[child_index(as_branch(n), key)];
      prefetch_search(child, n);
      n = child;
    }
    return as_leaf(n);
  }

  // The value stored under `key`, or null.
  static const V* find(const node_header* root, const K& key) {
    if (!root) return nullptr;
    const leaf* l = leaf_for(root, key);
    std::uint16_t i = lower_index(l, key);
    if (!is_at(l, i, key)) return nullptr;
    if constexpr (has_values) {
      return &l->values[i];
    } else {
      static constexpr no_value present{};
      return &present;
    }
  }

  static const K& first_key(const node_header* n) noexcept {
    while (n->height != 0) n = as_branch(n)->children[0];
    return as_leaf(n)->keys[0];
  }
  static const K& last_key(const node_header* n) noexcept {
    while (n->height != 0) n = as_branch(n)->children[n->count - 1];
    return as_leaf(n)->keys[n->count - 1];
  }

  // --- building new nodes ---

  // Fills a new leaf by appending entries. If it is abandoned (an element
  // copy threw), everything appended is destroyed and the node freed.
  class leaf_builder {
   public:
    leaf_builder() : n_(new leaf) {}
    ~leaf_builder() {
      if (n_) destroy(n_);
    }
    leaf_builder(const leaf_builder&) = delete;
    leaf_builder& operator=(const leaf_builder&) = delete;

    std::uint16_t count() const noexcept { return n_->count; }
    const leaf* get() const noexcept { return n_; }

    // Appends copies of entries [from, to) of `src`.
    void copy(const leaf* src, std::size_t from, std::size_t to) {
      if (from >= to) return;
      std::size_t n = to - from;
      K* keys = n_->keys.data() + n_->count;
      std::uninitialized_copy_n(src->keys.data() + from, n, keys);
      if constexpr (has_values) {
        try {
          std::uninitialized_copy_n(src->values.data() + from, n, n_->values.data() + n_->count);
        } catch (...) {
          std::destroy_n(keys, n);
          throw;
        }
      }
      n_->count = static_cast<std::uint16_t>(n_->count + n);
    }

    // Appends one entry constructed from the arguments.
    template <class KK, class VV>
    void add(KK&& key, VV&& value) {
      K* k = ::new (static_cast<void*>(n_->keys.data() + n_->count)) K(std::forward<KK>(key));
      if constexpr (has_values) {
        try {
          ::new (static_cast<void*>(n_->values.data() + n_->count)) V(std::forward<VV>(value));
        } catch (...) {
          k->~K();
          throw;
        }
      }
      ++n_->count;
    }

    // The finished leaf, with one hold owned by the caller.
    node_header* finish() noexcept {
      n_->size = n_->count;
      return std::exchange(n_, nullptr);
    }

   private:
    leaf* n_;
  };

  // Fills a new branch: child, separator, child, ... Children are either
  // shared (the builder takes a new hold) or adopted (the caller's hold is
  // taken over, but only by finish(): an abandoned builder leaves adopted
  // children to the caller and gives back only the holds it took).
  class branch_builder {
   public:
    explicit branch_builder(std::uint8_t height) : n_(new branch) { n_->height = height; }
    ~branch_builder() {
      if (!n_) return;
      std::destroy_n(n_->keys.data(), keys_);
      for (std::uint16_t i = 0; i < n_->count; ++i) {
        if (!(adopted_ >> i & 1)) release(n_->children[i]);
      }
      delete n_;
    }
    branch_builder(const branch_builder&) = delete;
    branch_builder& operator=(const branch_builder&) = delete;

    std::uint16_t count() const noexcept { return n_->count; }

    void share(node_header* child) noexcept {
      hold(child);
      push(child);
    }
    void adopt(node_header* child) noexcept {
      adopted_ |= std::uint64_t{1} << n_->count;
      push(child);
    }
    // Appends the separator before the next child.
    void separator(const K& key) {
      ::new (static_cast<void*>(n_->keys.data() + keys_)) K(key);
      ++keys_;
    }

    // Appends children [from, to) of `src` (shared) and the separators
    // between them. Prefetches the children first (see hold_all).
    void copy(const branch* src, std::size_t from, std::size_t to) {
      for (std::size_t i = from; i < to; ++i) __builtin_prefetch(src->children[i], 1, 3);
      for (std::size_t i = from; i < to; ++i) {
        if (i > from) separator(src->keys[i - 1]);
        share(src->children[i]);
      }
    }

    // The finished branch, with one hold owned by the caller. REQUIRES:
    // at least one child, and one separator fewer than children.
    node_header* finish() noexcept {
      adopted_ = 0;
      return std::exchange(n_, nullptr);
    }

   private:
    void push(node_header* child) noexcept {
      n_->children[n_->count++] = child;
      n_->size += child->size;
    }

    branch* n_;
    std::uint16_t keys_ = 0;
    std::uint64_t adopted_ = 0;
  };
};

}  // namespace instadump::detail

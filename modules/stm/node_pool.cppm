// node_pool: per-thread caches of freed version nodes, by size class.
//
// Every write commit allocates one version node and (usually) frees the one
// it replaces; with the general-purpose allocator that pair costs as much as
// the rest of a small transaction. Nodes of up to max_pooled_size bytes are
// instead kept on a short per-thread free list per 16-byte size class and
// reused by the next allocation of that class on the same thread. A node
// freed on another thread than the one that allocated it simply joins that
// thread's list; each list is capped, so a thread that frees more than it
// allocates returns the excess to the allocator. Lists are emptied when the
// thread exits.
//
// Off under AddressSanitizer and ThreadSanitizer, which must see every
// allocation and free of a node to check its lifetime.
module;
#include <cstddef>
#include <cstdint>
#include <new>
export module instadump:node_pool;

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define INSTADUMP_NODE_POOL 0
#endif
#endif
#ifndef INSTADUMP_NODE_POOL
#define INSTADUMP_NODE_POOL 1
#endif

namespace instadump::detail {

inline constexpr std::size_t pool_granule = 16;
inline constexpr std::size_t pool_classes = 8;  // 16, 32, ..., 128 bytes
inline constexpr std::size_t max_pooled_size = pool_granule * pool_classes;
inline constexpr std::uint32_t pool_list_cap = 64;

struct node_pool_state {
  void* heads[pool_classes] = {};
  std::uint32_t counts[pool_classes] = {};
  // 0: never used (the exit hook is not registered yet), 1: in use,
  // 2: the thread is exiting and its lists are gone (free straight away).
  std::uint8_t phase = 0;
};

inline thread_local constinit node_pool_state t_node_pool{};

// Registers the thread-exit hook; returns false if the thread is exiting.
bool start_node_pool() noexcept;

inline std::size_t pool_class_of(std::size_t size) noexcept { return (size - 1) / pool_granule; }

inline void* allocate_node(std::size_t size) {
  if (INSTADUMP_NODE_POOL && size <= max_pooled_size) {
    std::size_t c = pool_class_of(size);
    node_pool_state& pool = t_node_pool;
    if (void* p = pool.heads[c]) {
      pool.heads[c] = *static_cast<void**>(p);
      --pool.counts[c];
      return p;
    }
    // Whole classes, so that any node of the class can reuse the block.
    return ::operator new((c + 1) * pool_granule);
  }
  return ::operator new(size);
}

inline void free_node(void* p, std::size_t size) noexcept {
  if (INSTADUMP_NODE_POOL && size <= max_pooled_size) {
    std::size_t c = pool_class_of(size);
    node_pool_state& pool = t_node_pool;
    if (pool.counts[c] < pool_list_cap && (pool.phase == 1 || (pool.phase == 0 && start_node_pool()))) {
      *static_cast<void**>(p) = pool.heads[c];
      pool.heads[c] = p;
      ++pool.counts[c];
      return;
    }
    ::operator delete(p, (c + 1) * pool_granule);
    return;
  }
  ::operator delete(p, size);
}

}  // namespace instadump::detail

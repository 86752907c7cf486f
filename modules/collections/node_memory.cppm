// node_memory: per-thread caches of freed nodes, by size class.
//
// A change of a persistent collection allocates a new node for each level
// of its path and frees the nodes it replaced (when no other version holds
// them), so the same few sizes are allocated and freed over and over.
// size_class_cache keeps freed blocks of up to Granule * Classes bytes on a
// short per-thread list per class and hands them to the next allocation of
// that class on the same thread; a block freed on another thread joins
// that thread's list. Lists are capped (a thread that frees more than it
// allocates returns the excess to the allocator) and emptied when the
// thread exits.
//
// The STM's version nodes use the same scheme with small classes
// (stm/node_pool.cppm); this is its general form, which that one could
// become an instance of. Off under AddressSanitizer and ThreadSanitizer,
// which must see every allocation and free.
module;
#include <cstddef>
#include <cstdint>
#include <new>
export module instadump:node_memory;

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define INSTADUMP_SIZE_CLASS_CACHE 0
#endif
#endif
#ifndef INSTADUMP_SIZE_CLASS_CACHE
#define INSTADUMP_SIZE_CLASS_CACHE 1
#endif

export namespace instadump::detail {

template <std::size_t Granule, std::size_t Classes, std::uint32_t ListCap>
class size_class_cache {
 public:
  static constexpr std::size_t max_size = Granule * Classes;

  // Memory for `size` bytes, aligned as operator new aligns.
  static void* allocate(std::size_t size) {
    if (!INSTADUMP_SIZE_CLASS_CACHE || size > max_size) return ::operator new(size);
    std::size_t c = class_of(size);
    lists& l = t_lists;
    if (void* p = l.heads[c]) {
      l.heads[c] = *static_cast<void**>(p);
      --l.counts[c];
      return p;
    }
    return ::operator new(block_size(c));  // the whole class: any later size of it can reuse the block
  }

  // Gives back memory from allocate(size).
  static void free(void* p, std::size_t size) noexcept {
    if (!INSTADUMP_SIZE_CLASS_CACHE || size > max_size) {
      ::operator delete(p, size);
      return;
    }
    std::size_t c = class_of(size);
    lists& l = t_lists;
    if (l.counts[c] < ListCap && (l.phase == in_use || (l.phase == unused && start()))) {
      *static_cast<void**>(p) = l.heads[c];
      l.heads[c] = p;
      ++l.counts[c];
      return;
    }
    ::operator delete(p, block_size(c));
  }

 private:
  enum phase_t : std::uint8_t { unused, in_use, exiting };
  struct lists {
    void* heads[Classes] = {};
    std::uint32_t counts[Classes] = {};
    phase_t phase = unused;
  };
  static inline thread_local constinit lists t_lists{};

  // Returns the thread's cached blocks to the allocator when it exits.
  struct exit_hook {
    ~exit_hook() {
      lists& l = t_lists;
      l.phase = exiting;  // blocks freed from now on go straight back
      for (std::size_t c = 0; c < Classes; ++c) {
        while (void* p = l.heads[c]) {
          l.heads[c] = *static_cast<void**>(p);
          ::operator delete(p, block_size(c));
        }
        l.counts[c] = 0;
      }
    }
  };

  // Registers the exit hook (on the thread's first free); false if exiting.
  static bool start() noexcept {
    if (t_lists.phase == exiting) return false;
    thread_local exit_hook hook;
    (void)hook;
    t_lists.phase = in_use;
    return true;
  }

  static std::size_t class_of(std::size_t size) noexcept { return size == 0 ? 0 : (size - 1) / Granule; }
  static std::size_t block_size(std::size_t c) noexcept { return (c + 1) * Granule; }
};

// The collections' nodes: 64-byte classes up to 2 KiB, 32 blocks a class.
using collection_node_cache = size_class_cache<64, 32, 32>;

}  // namespace instadump::detail

// Per-thread pins for reads outside a transaction.
//
// ref<T>::deref() outside a transaction returns a reference to the newest
// committed version. To keep that version alive after the call without a
// reference count on every read, each thread keeps, per ref, the last two
// versions it dereferenced (the table below). The pins are dropped when the
// thread reads a newer version twice more, calls release_thread_pins(), or
// exits.
//
// In front of the table sits a small direct-mapped cache, indexed by a hash
// of the ref's address: the fast path inlined into deref() loads the ref's
// head, the thread's cache and one entry, compares, and reads the value --
// four loads, against two for a plain atomic pointer load. (The table's
// lookup needs two more -- the ref's slot and the table's mask -- which on
// some cores doubles the cost of a read.) A cache entry holds the newest
// version the table pins for one of the refs that hash there, or no_pin: a
// push for that ref overwrites it, so it never holds a released version,
// and a version is one ref's, so it matches no other ref's head. A ref whose
// entry another ref took finds its pin in the table (a few loads more) and
// takes the entry back. Inside a transaction the thread's cache is swapped
// for an empty one, so every read misses it (and the table, see below).
//
// The table's lookup (thread_pins_newest, the second level of deref()) has
// no bound check and no null check either: the table's size is a
// power of two and the ref's slot (its index, pre-scaled to a byte offset so
// that the fast path needs no shift) is masked, and empty entries hold a
// marker that no version pointer (nor null) equals. A masked slot that lands
// on another ref's entry cannot match either: that entry holds a version this
// thread keeps alive, which is never at the same address as a live version of
// another ref. Inside a transaction the mask is 0, so every read lands on
// entry 0 (never used) and takes the slow path, which reads through the
// transaction. The cache is allocated with the table and freed with it. The
// table is a plain thread_local with constant
// initialization, so the fast path needs no initialization guard; the object
// that frees it at thread exit is registered the first time it grows.
module;
#include <cstdint>
export module instadump:pins;
import :version;

namespace instadump::detail {

// The marker of an empty entry.
inline constinit const char no_pin_marker = 0;
inline constexpr const void* no_pin = &no_pin_marker;

struct pin_pair {
  const void* newest = no_pin;    // a version_base*, or no_pin
  const void* previous = no_pin;  // likewise
};

// A ref's slot in the table is its pin index << pin_slot_shift: the byte
// offset of its pin_pair.
inline constexpr unsigned pin_slot_shift = 4;
static_assert(sizeof(pin_pair) == 1u << pin_slot_shift);
// The most pin indices the 32-bit slots can address.
inline constexpr std::uint32_t max_pin_index = (std::uint32_t{1} << (32 - pin_slot_shift)) - 1;

inline constinit pin_pair empty_pin_table[1] = {};

// Indexed by ref_core::pin_index(); the fast path adds ref_core::pin_slot()
// & slot_mask to `pairs`. Entry 0 is never used, so a ref without an index
// always misses.
struct pin_table {
  pin_pair* pairs = empty_pin_table;
  std::uint32_t size = 0;       // 0 (pairs is empty_pin_table) or a power of two
  std::uint32_t slot_mask = 0;  // (size - 1) << pin_slot_shift outside a transaction, 0 inside one
  const void** cache = nullptr;  // the thread's pin cache, allocated with the table
};

inline thread_local constinit pin_table t_pins{};

// The pin cache: entries, the empty cache (all no_pin, which no version
// pointer nor null equals), and the cache reads consult -- the thread's own
// outside a transaction, once it has one.
inline constexpr unsigned pin_cache_bits = 11;
inline constexpr std::uint32_t pin_cache_entries = std::uint32_t{1} << pin_cache_bits;
struct pin_cache_array {
  const void* entries[pin_cache_entries];
};
consteval pin_cache_array empty_pin_cache_array() {
  pin_cache_array a{};
  for (const void*& e : a.entries) e = no_pin;
  return a;
}
inline constinit const pin_cache_array empty_pin_cache = empty_pin_cache_array();
inline thread_local constinit const void* const* t_pin_cache = empty_pin_cache.entries;

// The cache entry of the ref at `ref` (Fibonacci hashing of its address).
[[gnu::always_inline]] inline std::uint32_t pin_cache_index(const void* ref) noexcept {
  return static_cast<std::uint32_t>(((reinterpret_cast<std::uintptr_t>(ref) >> 4) * 0x9E3779B97F4A7C15ull) >>
                                    (64 - pin_cache_bits));
}

// True if the calling thread runs no transaction and its cache says it pins
// `v` (which may be null) as the newest version of the ref at `ref`.
[[gnu::always_inline]] inline bool thread_caches_newest(const void* ref, const version_base* v) noexcept {
  return t_pin_cache[pin_cache_index(ref)] == v;
}

// Notes in the calling thread's cache that it pins `v` as the newest version
// of the ref at `ref`. REQUIRES: v is that, and no transaction runs.
inline void cache_thread_pin(const void* ref, const version_base* v) noexcept {
  if (t_pins.cache) t_pins.cache[pin_cache_index(ref)] = v;
}

// True if the calling thread runs no transaction and already pins `v` (which
// may be null) as the newest version of the ref with pin slot `slot`.
[[gnu::always_inline]] inline bool thread_pins_newest(std::uint32_t slot, const version_base* v) noexcept {
  const pin_table& t = t_pins;
  const char* entry = reinterpret_cast<const char*>(t.pairs) + (slot & t.slot_mask);
  return reinterpret_cast<const pin_pair*>(entry)->newest == v;
}

// The slot mask of a table of `size` entries outside a transaction.
inline std::uint32_t slot_mask_of(std::uint32_t size) noexcept {
  return size == 0 ? 0 : (size - 1) << pin_slot_shift;
}

// Called when the thread enters (true) or leaves (false) a transaction.
inline void set_pins_in_transaction(bool in_transaction) noexcept {
  t_pins.slot_mask = in_transaction ? 0 : slot_mask_of(t_pins.size);
  t_pin_cache = in_transaction || !t_pins.cache ? empty_pin_cache.entries : t_pins.cache;
}

// Makes room for `index` in the calling thread's table (may throw
// std::bad_alloc); call before taking the hold that push_thread_pin adopts.
// Not inside a transaction.
void reserve_thread_pin(std::uint32_t index);

// Pins `v` (already held once for the table) as the newest for `index`,
// releasing the pin two reads back. REQUIRES: reserve_thread_pin(index).
void push_thread_pin(std::uint32_t index, version_base* v) noexcept;

}  // namespace instadump::detail

export namespace instadump {

// Drops every version the calling thread keeps alive for references returned
// by deref() outside a transaction. Afterwards those references dangle.
void release_thread_pins() noexcept;

}  // namespace instadump

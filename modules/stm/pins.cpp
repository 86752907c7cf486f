// Implementation of per-thread read pins (pins.cppm): growing the table and
// releasing it at thread exit.
module;
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <new>
module instadump;

namespace instadump::detail {
namespace {

void release_pin(const void* p) noexcept {
  if (p != no_pin) const_cast<version_base*>(static_cast<const version_base*>(p))->release();
}

void clear_table() noexcept {
  pin_table& t = t_pins;
  for (std::uint32_t i = 0; i < t.size; ++i) {
    release_pin(t.pairs[i].newest);
    release_pin(t.pairs[i].previous);
  }
  if (t.size) delete[] t.pairs;
  delete[] t.cache;
  t = pin_table{};
  t_pin_cache = empty_pin_cache.entries;
}

// Registered on first growth; frees the table when the thread exits.
struct table_owner {
  ~table_owner() { clear_table(); }
};

void grow_table(std::uint32_t index) {
  thread_local table_owner owner;  // registers the exit hook once
  (void)owner;
  pin_table& t = t_pins;
  std::uint32_t size = t.size ? t.size : 16;
  while (size <= index) size *= 2;
  if (!t.cache) {
    t.cache = new const void*[pin_cache_entries];
    std::fill_n(t.cache, pin_cache_entries, no_pin);
  }
  auto* pairs = new pin_pair[size];
  for (std::uint32_t i = 0; i < t.size; ++i) pairs[i] = t.pairs[i];
  if (t.size) delete[] t.pairs;
  t.pairs = pairs;
  t.size = size;
  t.slot_mask = slot_mask_of(size);  // only ever grown outside a transaction
  t_pin_cache = t.cache;
}

}  // namespace

void reserve_thread_pin(std::uint32_t index) {
  if (index >= t_pins.size) grow_table(index);
}

void push_thread_pin(std::uint32_t index, version_base* v) noexcept {
  pin_pair& p = t_pins.pairs[index];
  release_pin(p.previous);
  p.previous = p.newest;
  p.newest = v;
}

}  // namespace instadump::detail

namespace instadump {
void release_thread_pins() noexcept { detail::clear_table(); }
}  // namespace instadump

// write_index: where each ref's entry is in a transaction's write set, once
// the set is too large to scan (see transaction::index_threshold).
//
// An open-addressing table (linear probing, at most half full) in one
// allocation that the thread's transaction keeps from one dosync to the
// next. A node-based map allocated and freed a node per written ref: a
// transaction writing 1,000 refs left 1,000 small chunks in glibc's fast
// bins, which the program's next large allocation then had to consolidate
// (in a save right after such a transaction, 10% of its time). Emptying is
// O(1): a slot is in use only when it carries the table's current
// generation.
module;
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
export module instadump:write_index;

namespace instadump::detail {

class write_index {
 public:
  static constexpr std::size_t npos = ~std::size_t{0};

  bool empty() const noexcept { return size_ == 0; }

  // The position recorded for `key`, or npos.
  std::size_t find(const void* key) const noexcept {
    if (size_ == 0) return npos;
    for (std::size_t s = slot_of(key);; s = (s + 1) & mask_) {
      const slot& x = slots_[s];
      if (x.generation != generation_) return npos;
      if (x.key == key) return x.index;
    }
  }

  // Records `index` for `key`, which must not be recorded yet. Throws
  // std::bad_alloc (the index is then unchanged).
  void insert(const void* key, std::size_t index) {
    if ((size_ + 1) * 2 > capacity()) grow();
    place(key, static_cast<std::uint32_t>(index));
    ++size_;
  }

  // Forgets every key. Keeps a table of up to kKeptSlots (1 MiB) for the
  // next transaction; a larger one, grown by a huge transaction, is freed,
  // so that it does not stay with the thread (allocating it again costs
  // little next to the tens of thousands of writes that need it).
  void clear() noexcept {
    if (size_ == 0) return;
    if (capacity() > kKeptSlots) {
      slots_.reset();
      mask_ = 0;
      shift_ = 64;
    } else if (++generation_ == 0) {  // wrapped: no stale slot may look current
      std::memset(static_cast<void*>(slots_.get()), 0, capacity() * sizeof(slot));
      generation_ = 1;
    }
    size_ = 0;
  }

 private:
  struct slot {
    const void* key;
    std::uint32_t index;
    std::uint32_t generation;  // in use when equal to generation_
  };
  static constexpr std::size_t kFirstSlots = 64;
  static constexpr std::size_t kKeptSlots = std::size_t{1} << 16;

  std::size_t capacity() const noexcept { return slots_ ? mask_ + 1 : 0; }

  // Fibonacci hashing: the product's high bits mix all of the address.
  std::size_t slot_of(const void* key) const noexcept {
    return static_cast<std::size_t>((reinterpret_cast<std::uintptr_t>(key) * 0x9E3779B97F4A7C15ull) >> shift_);
  }

  void place(const void* key, std::uint32_t index) noexcept {
    std::size_t s = slot_of(key);
    while (slots_[s].generation == generation_) s = (s + 1) & mask_;
    slots_[s] = slot{key, index, generation_};
  }

  void grow() {
    const std::size_t old_capacity = capacity();
    const std::size_t new_capacity = old_capacity == 0 ? kFirstSlots : old_capacity * 2;
    auto fresh = std::make_unique<slot[]>(new_capacity);  // zeroed: generation 0 is never current
    std::unique_ptr<slot[]> old = std::move(slots_);
    const std::uint32_t old_generation = generation_;
    slots_ = std::move(fresh);
    mask_ = new_capacity - 1;
    shift_ = 64 - static_cast<unsigned>(__builtin_ctzll(new_capacity));
    generation_ = 1;
    for (std::size_t s = 0; s < old_capacity; ++s) {
      if (old[s].generation == old_generation) place(old[s].key, old[s].index);
    }
  }

  std::unique_ptr<slot[]> slots_;
  std::size_t mask_ = 0;
  unsigned shift_ = 64;
  std::size_t size_ = 0;
  std::uint32_t generation_ = 1;
};

}  // namespace instadump::detail

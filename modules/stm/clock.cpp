// Implementation of the commit clock and read-point registry (clock.cppm).
//
// Each thread owns one cache-line-sized slot in a grow-only list of blocks;
// slots of exited threads are recycled. Scanning is lock-free: blocks are
// never freed and are linked before they are published.
module;
#include <atomic>
#include <cstdint>
#include <new>
module instadump;

namespace instadump::detail {
namespace {

// Alone on its cache line (the padding keeps the linker from placing other
// globals behind it): every write commit of every thread writes it, and a
// read-mostly neighbour would miss in every other core's cache each time.
struct alignas(64) padded_clock {
  std::atomic<std::uint64_t> value{0};
};
padded_clock g_clock_line;
std::atomic<std::uint64_t>& g_clock = g_clock_line.value;

struct alignas(64) slot {
  std::atomic<std::uint64_t> read_point{no_read_point};
  std::atomic<bool> in_use{false};
};

struct block {
  static constexpr int size = 16;
  slot slots[size];
  // Slots [0, used) have ever been claimed: scans stop there, so a program
  // with few threads reads few cache lines.
  std::atomic<int> used{0};
  block* next = nullptr;
};

void note_used(block& b, int index) noexcept {
  int cur = b.used.load(std::memory_order_seq_cst);
  while (cur <= index && !b.used.compare_exchange_weak(cur, index + 1, std::memory_order_seq_cst)) {
  }
}

std::atomic<block*> g_blocks{nullptr};

slot* claim_slot() {
  for (block* b = g_blocks.load(std::memory_order_acquire); b; b = b->next) {
    for (int i = 0; i < block::size; ++i) {
      slot& s = b->slots[i];
      bool expected = false;
      if (!s.in_use.load(std::memory_order_relaxed) &&
          s.in_use.compare_exchange_strong(expected, true)) {
        // Published before the slot's first announcement (seq_cst on both
        // sides), so a scan that misses the slot also sees the clock value
        // the announcement will re-check against.
        note_used(*b, i);
        return &s;
      }
    }
  }
  auto* b = new block;  // never freed: scanners may hold pointers into it
  b->slots[0].in_use.store(true, std::memory_order_relaxed);
  b->used.store(1, std::memory_order_relaxed);
  block* head = g_blocks.load(std::memory_order_acquire);
  do {
    b->next = head;
  } while (!g_blocks.compare_exchange_weak(head, b, std::memory_order_acq_rel));
  return &b->slots[0];
}

// The calling thread's slot: a constant-initialized pointer, so that the
// common path checks no initialization guard; the owner that gives the slot
// back at thread exit is created with it.
thread_local constinit slot* t_slot = nullptr;

struct slot_owner {
  slot* s = claim_slot();
  ~slot_owner() {
    t_slot = nullptr;
    s->read_point.store(no_read_point, std::memory_order_release);
    s->in_use.store(false, std::memory_order_release);
  }
};

[[gnu::noinline]] slot& first_slot() {
  thread_local slot_owner owner;
  t_slot = owner.s;
  return *owner.s;
}

inline slot& my_slot() { return t_slot ? *t_slot : first_slot(); }

}  // namespace

std::uint64_t clock_now() noexcept { return g_clock.load(std::memory_order_acquire); }

std::uint64_t clock_tick() noexcept {
  return g_clock.fetch_add(1, std::memory_order_acq_rel) + 1;
}

std::uint64_t announce_read_point() noexcept {
  slot& s = my_slot();
  std::uint64_t rp = g_clock.load(std::memory_order_seq_cst);
  for (;;) {
    s.read_point.store(rp, std::memory_order_seq_cst);
    std::uint64_t again = g_clock.load(std::memory_order_seq_cst);
    if (again == rp) return rp;
    rp = again;
  }
}

void withdraw_read_point() noexcept {
  my_slot().read_point.store(no_read_point, std::memory_order_release);
}

std::uint64_t min_active_read_point() noexcept {
  std::uint64_t lowest = g_clock.load(std::memory_order_seq_cst);
  for (block* b = g_blocks.load(std::memory_order_acquire); b; b = b->next) {
    int used = b->used.load(std::memory_order_seq_cst);
    for (int i = 0; i < used; ++i) {
      std::uint64_t rp = b->slots[i].read_point.load(std::memory_order_seq_cst);
      if (rp < lowest) lowest = rp;
    }
  }
  return lowest;
}

}  // namespace instadump::detail

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

std::atomic<std::uint64_t> g_clock{0};

struct alignas(64) slot {
  std::atomic<std::uint64_t> read_point{no_read_point};
  std::atomic<bool> in_use{false};
};

struct block {
  static constexpr int size = 16;
  slot slots[size];
  block* next = nullptr;
};

std::atomic<block*> g_blocks{nullptr};

slot* claim_slot() {
  for (block* b = g_blocks.load(std::memory_order_acquire); b; b = b->next) {
    for (slot& s : b->slots) {
      bool expected = false;
      if (!s.in_use.load(std::memory_order_relaxed) &&
          s.in_use.compare_exchange_strong(expected, true)) {
        return &s;
      }
    }
  }
  auto* b = new block;  // never freed: scanners may hold pointers into it
  b->slots[0].in_use.store(true, std::memory_order_relaxed);
  block* head = g_blocks.load(std::memory_order_acquire);
  do {
    b->next = head;
  } while (!g_blocks.compare_exchange_weak(head, b, std::memory_order_acq_rel));
  return &b->slots[0];
}

struct thread_slot {
  slot* s = claim_slot();
  ~thread_slot() {
    s->read_point.store(no_read_point, std::memory_order_release);
    s->in_use.store(false, std::memory_order_release);
  }
};

slot& my_slot() {
  thread_local thread_slot ts;
  return *ts.s;
}

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
    for (slot& s : b->slots) {
      std::uint64_t rp = s.read_point.load(std::memory_order_seq_cst);
      if (rp < lowest) lowest = rp;
    }
  }
  return lowest;
}

}  // namespace instadump::detail

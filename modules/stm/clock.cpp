// Implementation of the commit clock and read-point registry (clock.cppm).
//
// Each thread owns one cache-line-sized slot in a grow-only list of blocks;
// slots of exited threads are recycled. Scanning is lock-free: blocks are
// never freed and are linked before they are published.
module;
#include <atomic>
#include <cstdint>
#include <new>
#include <vector>
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

// A slot's word: the floor shifted left by one, and the low bit set while
// the owner runs a transaction (only an idle slot may be changed by others).
// A free slot holds free_word (active, floor above every stamp); an idle
// slot whose floor a committer lifted holds lifted_word (idle, no floor).
// Scanners skip both, so an owner leaving either re-checks the clock.
inline constexpr std::uint64_t free_word = ~std::uint64_t{0};
inline constexpr std::uint64_t lifted_word = ~std::uint64_t{1};
inline constexpr std::uint64_t active_word(std::uint64_t rp) noexcept { return (rp << 1) | 1; }
inline constexpr std::uint64_t idle_word(std::uint64_t floor) noexcept { return floor << 1; }
inline constexpr std::uint64_t floor_of(std::uint64_t word) noexcept { return word >> 1; }
inline constexpr bool is_idle(std::uint64_t word) noexcept { return (word & 1) == 0; }

struct alignas(64) slot {
  std::atomic<std::uint64_t> word{free_word};
  // The clock value a move is taking the read point to, announced beside
  // `word` until the move is confirmed; otherwise no_read_point.
  std::atomic<std::uint64_t> moving{no_read_point};
  // Odd while the owner walks a version chain. Only the owner writes it.
  std::atomic<std::uint64_t> walks{0};
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
// The newest stamp this thread has seen: its next read point.
thread_local constinit std::uint64_t t_known = 0;
// The idle word this thread last stored; another value in the slot means a
// committer lifted the floor. Starts as a word no idle slot holds.
thread_local constinit std::uint64_t t_idle_word = 1;

struct slot_owner {
  slot* s = claim_slot();
  ~slot_owner() {
    t_slot = nullptr;
    s->moving.store(no_read_point, std::memory_order_release);
    s->word.store(free_word, std::memory_order_release);
    s->in_use.store(false, std::memory_order_release);
  }
};

// The slot starts free (skipped by scanners) until its first announcement.
[[gnu::noinline]] slot& first_slot() {
  thread_local slot_owner owner;
  t_slot = owner.s;
  return *owner.s;
}

inline slot& my_slot() { return t_slot ? *t_slot : first_slot(); }

// Announces a clock value, from a slot that scanners may have skipped (free,
// or lifted). "Store, then re-check the clock", sequentially consistent on
// both sides: a scanner either sees the announcement or read a clock value
// no newer than it. The exchange takes the slot from whatever idle or free
// word it holds; once active, only the owner writes it.
std::uint64_t announce_clock_value(slot& s) noexcept {
  std::uint64_t expected = t_idle_word;
  std::uint64_t rp = g_clock.load(std::memory_order_seq_cst);
  while (!s.word.compare_exchange_weak(expected, active_word(rp), std::memory_order_seq_cst)) {
  }
  for (;;) {
    std::uint64_t again = g_clock.load(std::memory_order_seq_cst);
    if (again == rp) break;
    rp = again;
    s.word.store(active_word(rp), std::memory_order_seq_cst);
  }
  t_known = rp;
  return rp;
}

}  // namespace

std::uint64_t clock_now() noexcept { return g_clock.load(std::memory_order_acquire); }

std::uint64_t clock_tick() noexcept {
  // Sequentially consistent, as the re-checks of announcements are: a
  // committer's later scan then sees every announcement whose re-check read
  // a clock value below its stamp. The tick also releases the idle word
  // written before it to every committer that ticks later.
  std::uint64_t stamp = g_clock.fetch_add(1, std::memory_order_seq_cst) + 1;
  t_known = stamp;
  return stamp;
}

std::uint64_t announce_read_point() noexcept {
  slot& s = my_slot();
  std::uint64_t expected = t_idle_word;
  // The floor only rises (t_known >= the idle floor), so a scanner that reads
  // either word gets a bound of this read point. The exchange fails if a
  // committer lifted the floor, or on the thread's first announcement.
  if (s.word.compare_exchange_strong(expected, active_word(t_known), std::memory_order_seq_cst)) [[likely]] {
    return t_known;
  }
  return announce_clock_value(s);
}

std::uint64_t announce_current_read_point() noexcept { return announce_clock_value(my_slot()); }

std::uint64_t begin_read_point_move() noexcept {
  // As announce_clock_value, in the second word: the first one keeps
  // announcing the point the transaction has read at so far.
  slot& s = *t_slot;
  std::uint64_t rp = g_clock.load(std::memory_order_seq_cst);
  for (;;) {
    s.moving.store(rp, std::memory_order_seq_cst);
    std::uint64_t again = g_clock.load(std::memory_order_seq_cst);
    if (again == rp) return rp;
    rp = again;
  }
}

void finish_read_point_move(std::uint64_t rp) noexcept {
  // Scanners read `moving` before `word`: one that finds the move cleared
  // finds the new point in `word`. Active words are never changed by others.
  slot& s = *t_slot;
  s.word.store(active_word(rp), std::memory_order_release);
  s.moving.store(no_read_point, std::memory_order_release);
  if (rp > t_known) t_known = rp;
}

void withdraw_read_point() noexcept {
  t_idle_word = idle_word(t_known);
  slot& s = my_slot();
  s.word.store(t_idle_word, std::memory_order_release);
  // A move given up (its transaction failed) leaves its point behind.
  if (s.moving.load(std::memory_order_relaxed) != no_read_point) [[unlikely]] {
    s.moving.store(no_read_point, std::memory_order_release);
  }
}

void collect_read_points(std::uint64_t stamp, std::vector<std::uint64_t>& points) {
  const slot* mine = t_slot;  // the caller's next point is its stamp, at least
  for (block* b = g_blocks.load(std::memory_order_acquire); b; b = b->next) {
    int used = b->used.load(std::memory_order_seq_cst);
    for (int i = 0; i < used; ++i) {
      slot& s = b->slots[i];
      if (&s == mine) continue;
      // `moving` first: see finish_read_point_move.
      const std::uint64_t moving = s.moving.load(std::memory_order_seq_cst);
      std::uint64_t w = s.word.load(std::memory_order_seq_cst);
      // An idle thread holds no point: it re-reads the clock next time.
      while (is_idle(w) && floor_of(w) < stamp) {
        if (s.word.compare_exchange_weak(w, lifted_word, std::memory_order_seq_cst)) w = lifted_word;
      }
      // Free and lifted words are above every stamp.
      if (!is_idle(w) && floor_of(w) < stamp) points.push_back(floor_of(w));
      if (moving < stamp) points.push_back(moving);
    }
  }
}

void begin_walk() noexcept {
  // Store, then fence; the cutter unlinks, then fences, then reads the
  // counter (wait_for_walkers): either it sees this walk, or this walk's
  // loads see the chain without what it cut.
  slot& s = *t_slot;
  s.walks.store(s.walks.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

void end_walk() noexcept {
  slot& s = *t_slot;
  s.walks.store(s.walks.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

void wait_for_walkers() noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const slot* mine = t_slot;
  for (block* b = g_blocks.load(std::memory_order_acquire); b; b = b->next) {
    int used = b->used.load(std::memory_order_acquire);
    for (int i = 0; i < used; ++i) {
      slot& s = b->slots[i];
      if (&s == mine) continue;
      const std::uint64_t walk = s.walks.load(std::memory_order_acquire);
      if ((walk & 1) == 0) continue;
      // A walk takes a few loads, unless its thread is descheduled.
      for (unsigned round = 0; s.walks.load(std::memory_order_acquire) == walk; ++round) spin_pause(round);
    }
  }
}

}  // namespace instadump::detail

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

// A slot's word: a read point shifted left by two, and its kind in the low
// bits. Only the owner writes its slot, except that a committer may lift an
// idle word (and set `spoiled`; see collect_read_points).
//  - active: the owner runs a transaction (or pins a version) at the point;
//  - idle: the owner is between transactions and starts its next one at the
//    point, unless the word was lifted meanwhile;
//  - committing: the owner has withdrawn its point to commit; right after
//    taking its stamp it stores the stamp as an idle word. The point is the
//    newest stamp it had seen, below the stamp it is taking;
//  - none: a free slot (free_word), or an idle one a committer lifted
//    (lifted_word). Scanners skip both, and an owner leaving either
//    re-checks the clock.
enum : std::uint64_t { idle_kind = 0, active_kind = 1, committing_kind = 2, no_point_kind = 3 };
inline constexpr std::uint64_t free_word = ~std::uint64_t{0};
inline constexpr std::uint64_t lifted_word = ~std::uint64_t{4};
// Stored by no one: the value a thread's t_idle_word starts with.
inline constexpr std::uint64_t never_stored_word = no_point_kind;
inline constexpr std::uint64_t active_word(std::uint64_t rp) noexcept { return (rp << 2) | active_kind; }
inline constexpr std::uint64_t idle_word(std::uint64_t rp) noexcept { return (rp << 2) | idle_kind; }
inline constexpr std::uint64_t committing_word(std::uint64_t known) noexcept { return (known << 2) | committing_kind; }
inline constexpr std::uint64_t point_of(std::uint64_t word) noexcept { return word >> 2; }
inline constexpr std::uint64_t kind_of(std::uint64_t word) noexcept { return word & 3; }

struct alignas(64) slot {
  std::atomic<std::uint64_t> word{free_word};
  // The clock value a move is taking the read point to, announced beside
  // `word` until the move is confirmed; otherwise no_read_point.
  std::atomic<std::uint64_t> moving{no_read_point};
  // Odd while the owner walks a version chain. Only the owner writes it.
  std::atomic<std::uint64_t> walks{0};
  // Set by a committer that found the word committing: the owner's next
  // start must re-check the clock rather than use its stamp.
  std::atomic<bool> spoiled{false};
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
// committer lifted it. Starts as a word no slot holds.
thread_local constinit std::uint64_t t_idle_word = never_stored_word;

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
// lifted or spoiled). "Store, then re-check the clock", sequentially
// consistent on both sides: a committer either sees the announcement or
// took a stamp no newer than it. The exchange takes the slot from whatever
// word it holds; once active, only the owner writes it.
std::uint64_t announce_clock_value(slot& s) noexcept {
  s.spoiled.store(false, std::memory_order_relaxed);  // the clock is what it asks for
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
  // committer's scan then sees every announcement whose re-check read a
  // clock value below its stamp. The tick also releases the committing word
  // stored before it to every committer that ticks later.
  const std::uint64_t stamp = g_clock.fetch_add(1, std::memory_order_seq_cst) + 1;
  t_known = stamp;
  t_idle_word = idle_word(stamp);
  t_slot->word.store(t_idle_word, std::memory_order_release);
  return stamp;
}

std::uint64_t announce_read_point() noexcept {
  slot& s = my_slot();
  std::uint64_t expected = t_idle_word;
  // The idle word holds this very point. The exchange fails if a committer
  // lifted it, or on the thread's first announcement; `spoiled` is read after
  // it (a committer sets it, then reads the word: see collect_read_points).
  if (s.word.compare_exchange_strong(expected, active_word(t_known), std::memory_order_seq_cst)) [[likely]] {
    if (!s.spoiled.load(std::memory_order_seq_cst)) [[likely]] return t_known;
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

void withdraw_read_point_to_commit() noexcept {
  // Not t_idle_word: no idle word may be stored over a lifted one. The
  // stamp about to be taken is above t_known, which tells committers that
  // scan meanwhile a bound of this thread's next point.
  t_slot->word.store(committing_word(t_known), std::memory_order_release);
}

void collect_read_points(std::uint64_t stamp, std::uint64_t replaced, std::vector<std::uint64_t>& points) {
  const slot* mine = t_slot;  // the caller's next point is its stamp
  for (block* b = g_blocks.load(std::memory_order_acquire); b; b = b->next) {
    int used = b->used.load(std::memory_order_seq_cst);
    for (int i = 0; i < used; ++i) {
      slot& s = b->slots[i];
      if (&s == mine) continue;
      // `moving` first: see finish_read_point_move.
      const std::uint64_t moving = s.moving.load(std::memory_order_seq_cst);
      if (moving < stamp) points.push_back(moving);
      std::uint64_t w = s.word.load(std::memory_order_seq_cst);
      for (bool settled = false; !settled;) {
        settled = true;
        const std::uint64_t rp = point_of(w);
        switch (kind_of(w)) {
          case active_kind:
            if (rp < stamp) points.push_back(rp);
            break;
          case idle_kind:
            if (rp >= stamp) break;  // it will read the newest version
            if (rp >= replaced) {    // it will read the version just replaced: keep that one
              points.push_back(rp);
            } else if (!s.word.compare_exchange_strong(w, lifted_word, std::memory_order_seq_cst)) {
              settled = false;  // the owner took its point meanwhile
            }
            break;
          case committing_kind: {
            // Its next point is its stamp, above rp, stored right after its
            // tick: if that is below ours, the idle word may come after this
            // scan. When rp is at or above `replaced`, so is that stamp:
            // then it reads the version just replaced (or a newer one), and
            // keeping vis(rp), which is that version, is enough.
            if (rp >= stamp) break;
            if (rp >= replaced) {
              points.push_back(rp);
              break;
            }
            // Otherwise set `spoiled`, then look again: either the owner's
            // next start sees the flag (and re-checks the clock), or the word
            // here is already past committing.
            s.spoiled.store(true, std::memory_order_seq_cst);
            const std::uint64_t again = s.word.load(std::memory_order_seq_cst);
            if (again != w) {
              w = again;
              settled = false;
            }
            break;
          }
          default:  // free or lifted
            break;
        }
      }
    }
  }
}

void begin_walk() noexcept {
  slot& s = *t_slot;
  s.walks.store(s.walks.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

void end_walk() noexcept {
  slot& s = *t_slot;
  s.walks.store(s.walks.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

void wait_for_walkers() noexcept {
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

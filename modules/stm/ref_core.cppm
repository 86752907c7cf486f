// ref_core: the type-independent half of a transactional ref.
//
// It owns the version chain (newest first), the commit lock, the fairness
// claim and the statistics; ref<T> adds the typed value operations on top.
//
// Version chains. A commit publishes its version as the head and then trims
// the chain to the versions some reader can still see: the newest, and for
// each announced read point the newest at or before it (chain.cpp says why
// that is safe). Readers walk the chain from the head, so versions cut out
// of its middle are freed only once no walk can reach them; the commit that
// cut them frees them after unlocking (trimmer).
//
// Commit lock protocol. The lock word is 0 when free; a committer holding it
// stores (stamp << 1) | 1, where stamp is 0 until the committer has taken its
// commit stamp. A transaction reading at read point rp waits while the word
// is locked with a stamp <= rp (including the unknown stamp 0), because such
// a commit may be about to publish a version it must see. Commits never wait
// for readers, and readers never wait for anything but a commit in progress.
module;
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
export module instadump:ref_core;
import :version;
import :pins;

export namespace instadump {

// Per-ref contention counters, readable at any time (relaxed snapshots).
struct ref_stats {
  std::uint64_t commits = 0;    // committed transactions that changed the ref
  std::uint64_t conflicts = 0;  // transaction restarts caused by this ref
  std::uint64_t retries = 0;    // restarts (a conflict on any ref, or retry()) of transactions
                                // that had written it, in an or_else branch too
};

}  // namespace instadump

namespace instadump::detail {

class transaction;

// A committer's scratch for trimming chains (ref_core::publish): the read
// points it found, and versions it cut out of the middle of chains while
// readers were walking them. Each run of those is still linked, oldest
// last, to the version below it.
class trimmer {
 public:
  inline bool has_cut() const noexcept { return !runs_.empty(); }
  // Waits until the walks under way when they were cut have ended
  // (wait_for_walkers), then lets go of every version cut.
  void release_cut() noexcept;

 private:
  friend class ref_core;
  // Notes the run from `first` down to (not including) `below`. Returns
  // false, noting nothing, if there is no memory for it.
  bool add_run(version_base* first, const version_base* below) noexcept;

  std::vector<std::uint64_t> points_;
  std::vector<std::pair<version_base*, const version_base*>> runs_;
};

class alignas(64) ref_core {
 public:
  // `rescan_length`: the chain length beyond which a commit looks for
  // versions no reader can see any more (see publish()).
  constexpr explicit ref_core(std::uint32_t rescan_length) noexcept : rescan_length_(rescan_length) {}
  ref_core(const ref_core&) = delete;
  ref_core& operator=(const ref_core&) = delete;
  ~ref_core() { delete name_.load(std::memory_order_relaxed); }

  // Human-readable name used in error messages (the registry key for state
  // refs). Empty until named.
  // Not thread-safe against concurrent set_name(): name a ref before use.
  inline std::string_view name() const noexcept {
    const std::string* n = name_.load(std::memory_order_acquire);
    return n ? std::string_view(*n) : std::string_view();
  }
  inline void set_name(std::string_view n) {
    delete name_.exchange(new std::string(n), std::memory_order_acq_rel);
  }
  std::string describe() const;

  // Newest version, creating the initial one from the ref's default on first
  // use.
  inline version_base* head() const {
    version_base* h = head_.load(std::memory_order_acquire);
    return h ? h : init_head();
  }
  // Newest version, or null before the first use.
  inline version_base* head_if_created() const noexcept { return head_.load(std::memory_order_acquire); }

  // Newest version with stamp <= rp. Waits for a commit in progress that may
  // publish such a version (see the lock protocol above).
  // REQUIRES: the calling thread has announced rp (see clock.cppm), which
  // keeps the returned version alive, and rp is a clock value or a stamp it
  // has seen published (so a commit that has not locked yet will take a
  // later stamp).
  inline version_base* version_at(std::uint64_t rp) const {
    if (may_publish_at_or_before(rp)) [[unlikely]] wait_for_commit_at_or_before(rp);
    version_base* v = head();
    // latest_stamp is published before the head (see publish): if it is at
    // or before rp, so is `v`, which is then the version at rp, and alive.
    // Otherwise `v` may already be cut and freed: walk from the head again.
    if (latest_stamp_.load(std::memory_order_acquire) <= rp) [[likely]] return v;
    return walk_to(rp);
  }

  // version_at(rp)->stamp(), without touching a version in the common case
  // that the newest one is at or before rp. REQUIRES: as version_at.
  inline std::uint64_t stamp_at(std::uint64_t rp) const {
    if (!may_publish_at_or_before(rp)) [[likely]] {
      const std::uint64_t s = latest_stamp_.load(std::memory_order_acquire);
      if (s <= rp) return s;
    }
    return version_at(rp)->stamp();
  }

  // The newest version, with one hold taken for the caller. Waits for a
  // commit in progress at or before rp first. REQUIRES: as version_at.
  version_base* hold_newest(std::uint64_t rp) const;

  // The newest version, pinned in the calling thread's table of
  // outside-transaction reads (see pins.cppm). Not inside a transaction.
  version_base* pin_newest() const;

  // Stamp of the newest committed version. Safe without an announced read
  // point (it never touches a version).
  inline std::uint64_t latest_stamp() const noexcept { return latest_stamp_.load(std::memory_order_acquire); }

  // Commit lock. try_lock succeeds only if the ref is free.
  inline bool try_lock() noexcept {
    std::uint64_t expected = 0;
    return lock_.compare_exchange_strong(expected, 1, std::memory_order_acq_rel);
  }
  inline void set_lock_stamp(std::uint64_t stamp) noexcept {
    lock_.store((stamp << 1) | 1, std::memory_order_release);
  }
  inline void unlock() noexcept { lock_.store(0, std::memory_order_release); }

  // Publishes `v` (already stamped) as the newest version and trims versions
  // no reader can see any more; those that readers may be walking through
  // are left in `t`, for the caller to release after unlocking. REQUIRES:
  // the caller holds the commit lock and took v's stamp with clock_tick.
  void publish(version_base* v, trimmer& t);

  // Fairness claims: the age ticket of the oldest transaction that lost a
  // conflict on this ref and is retrying. Younger writers yield to it.
  inline std::uint64_t claim() const noexcept { return claim_.load(std::memory_order_acquire); }
  void make_claim(std::uint64_t ticket) noexcept;
  void drop_claim(std::uint64_t ticket) noexcept;

  // Waiters blocked in retry() on this ref; a committer wakes them. A waiter
  // registers under the commit lock, so a committer (which checks while
  // holding the lock) either sees the waiter or the waiter sees its version.
  void add_waiter() noexcept;
  inline void remove_waiter() noexcept { waiters_.fetch_sub(1, std::memory_order_relaxed); }
  // REQUIRES: the caller holds the commit lock.
  inline bool has_waiters() const noexcept { return waiters_.load(std::memory_order_relaxed) != 0; }

  // Versions currently in the chain (for tests and diagnostics). A commit
  // that makes it longer than rescan_length trims it to the newest version
  // and one for each read point other threads have announced.
  inline std::uint32_t chain_length() const noexcept { return chain_length_.load(std::memory_order_relaxed); }

  // Index of this ref in every thread's table of outside-transaction pins
  // (pins.cppm): 0 until the first such read assigns one. Never reused.
  // pin_slot() is the same index as a byte offset into the table.
  inline std::uint32_t pin_index() const noexcept { return pin_slot() >> pin_slot_shift; }
  inline std::uint32_t pin_slot() const noexcept { return pin_slot_.load(std::memory_order_relaxed); }

  // Whether a validator or watches are installed (checked on the commit path
  // before the virtual calls below).
  inline bool has_validator() const noexcept { return has_validator_.load(std::memory_order_acquire); }
  inline bool has_watches() const noexcept { return has_watches_.load(std::memory_order_acquire); }

  inline ref_stats stats() const noexcept {
    return {commits_.load(std::memory_order_relaxed), conflicts_.load(std::memory_order_relaxed),
            retries_.load(std::memory_order_relaxed)};
  }
  inline void reset_stats() noexcept {
    commits_.store(0, std::memory_order_relaxed);
    conflicts_.store(0, std::memory_order_relaxed);
    retries_.store(0, std::memory_order_relaxed);
  }
  // REQUIRES: the caller holds the commit lock (so no read-modify-write).
  inline void count_commit() noexcept {
    commits_.store(commits_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  inline void count_conflict() noexcept { conflicts_.fetch_add(1, std::memory_order_relaxed); }
  inline void count_retry() noexcept { retries_.fetch_add(1, std::memory_order_relaxed); }

  // Typed operations, implemented by ref<T>.
  // The first version, from the ref's default. Called once per ref, by
  // init_head (it may move the default out).
  virtual version_base* make_initial_version() const = 0;
  virtual version_base* copy_version(const version_base& v) const = 0;
  // Throws validation_failed if the ref's validator rejects `v`.
  virtual void validate(const version_base& v) const = 0;
  virtual void notify_watches(const version_base& old_v, const version_base& new_v) const = 0;

 protected:
  // Releases every version the chain holds. Called by ~ref<T>.
  void destroy_chain() noexcept;
  inline void set_has_validator(bool on) noexcept { has_validator_.store(on, std::memory_order_release); }
  inline void set_has_watches(bool on) noexcept { has_watches_.store(on, std::memory_order_release); }

 private:
  version_base* init_head() const;
  // True if a commit holds the lock with a stamp <= rp or none yet.
  inline bool may_publish_at_or_before(std::uint64_t rp) const noexcept {
    std::uint64_t word = lock_.load(std::memory_order_acquire);
    return (word & 1) && (word >> 1) <= rp;
  }
  void wait_for_commit_at_or_before(std::uint64_t rp) const;
  // version_at when the newest version is newer than rp.
  version_base* walk_to(std::uint64_t rp) const;
  // Marks a walk down this chain, in the walker's slot and in walkers_.
  class walk_scope;
  // The trimming half of publish(): returns the chain's new length.
  std::uint32_t trim(version_base* newest, std::uint32_t length, trimmer& t) noexcept;
  std::uint32_t assign_pin_index() const noexcept;

  mutable std::atomic<version_base*> head_{nullptr};
  std::atomic<std::uint64_t> latest_stamp_{0};
  std::atomic<std::uint64_t> lock_{0};
  std::atomic<std::uint64_t> claim_{0};
  std::atomic<std::uint32_t> waiters_{0};
  mutable std::atomic<std::uint32_t> chain_length_{0};
  const std::uint32_t rescan_length_;
  mutable std::atomic<std::uint32_t> pin_slot_{0};  // pin index << pin_slot_shift
  mutable std::atomic<std::uint32_t> walkers_{0};   // walks down this chain under way
  std::atomic<bool> has_validator_{false};
  std::atomic<bool> has_watches_{false};
  std::atomic<std::uint64_t> commits_{0}, conflicts_{0}, retries_{0};
  std::atomic<std::string*> name_{nullptr};  // owned; std::string is not constinit-friendly
};

}  // namespace instadump::detail

// Implementation of transactions (transaction.cppm): the write set, commit,
// conflict handling with age-based fairness, and blocking retry().
module;
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>
module instadump;

namespace instadump::detail {
namespace {

thread_local const std::vector<const ref_core*>* t_commit_locks = nullptr;

// retry() waiters sleep here; a commit that touches a ref with waiters bumps
// the sequence number and wakes them all to re-check their read sets.
std::mutex g_wait_mu;
std::condition_variable g_wait_cv;

void notify_retry_waiters() {
  { std::lock_guard<std::mutex> lock(g_wait_mu); }
  g_wait_cv.notify_all();
}

// Spins, then yields, then sleeps: for waits that are usually very short
// (another transaction's commit) but may occasionally be long.
void pause_for(unsigned round) {
  if (round < 64) {
    cpu_relax();
  } else if (round < 256) {
    std::this_thread::yield();
  } else {
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

std::uint64_t cheap_random() noexcept {
  thread_local std::uint64_t x = 0x9E3779B97F4A7C15ull ^ reinterpret_cast<std::uintptr_t>(&x);
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}

std::atomic<std::uint32_t> g_thread_counter{0};
thread_local constinit std::uint32_t t_tiebreak = 0;  // 0: not drawn yet
std::uint32_t thread_tiebreak() noexcept {
  if (t_tiebreak == 0) t_tiebreak = g_thread_counter.fetch_add(1, std::memory_order_relaxed) + 1;
  return t_tiebreak;
}

}  // namespace


transaction& make_thread_root_transaction() {
  thread_local transaction root;  // destroyed at thread exit
  t_root_transaction = &root;
  return root;
}

bool committing_thread_holds(const ref_core* r) noexcept {
  return t_commit_locks && std::binary_search(t_commit_locks->begin(), t_commit_locks->end(), r);
}

void throw_no_transaction(const char* what) {
  throw no_transaction(std::string(what) +
                       " called outside a transaction: wrap it in instadump::dosync([&] { ... })");
}

transaction::~transaction() {
  if (t_root_transaction == this) t_root_transaction = nullptr;
  release_writes();
  if (is_root()) release_retired();
}

// --- Reads and writes -------------------------------------------------------

write_entry* transaction::find_local(const ref_core& r) noexcept {
  if (!index_.empty()) {
    const std::size_t at = index_.find(&r);
    return at == write_index::npos ? nullptr : &writes_[at];
  }
  for (write_entry& e : writes_) {
    if (e.ref == &r) return &e;
  }
  return nullptr;
}

write_entry* transaction::find_entry(const ref_core& r) noexcept {
  for (transaction* t = this; t; t = t->parent_) {
    if (write_entry* e = t->find_local(r)) return e;
  }
  return nullptr;
}

bool transaction::has_commutes(const ref_core& r) noexcept {
  for (transaction* t = this; t; t = t->parent_) {
    if (write_entry* e = t->find_local(r); e && e->commutes) return true;
  }
  return false;
}

const version_base& transaction::view_of_writes(const ref_core& r) {
  for (transaction* t = this; t; t = t->parent_) {
    if (write_entry* e = t->find_local(r); e && e->staged) return *e->staged;
  }
  return read(r);
}

void transaction::index_entries() {
  if (writes_.size() < index_threshold) return;
  if (index_.empty()) {
    for (std::size_t i = 0; i < writes_.size(); ++i) index_.insert(writes_[i].ref, i);
  } else {
    index_.insert(writes_.back().ref, writes_.size() - 1);
  }
}

write_entry& transaction::find_or_add_entry(const ref_core& r, bool check_conflicts) {
  if (write_entry* e = find_local(r)) return *e;
  bool inherited = false;
  for (transaction* t = parent_; t && !inherited; t = t->parent_) inherited = t->find_local(r) != nullptr;
  return new_entry(r, check_conflicts && !inherited);
}

void transaction::add_ensure(const ref_core& r) { ensures_.push_back(&r); }

void transaction::install(const ref_core& r, version_base* v) {
  write_entry& e = entry_for_write(r, false);
  if (e.staged) retire(e.staged);
  e.staged = v;
  e.has_set = false;
  e.commutes.reset();
}

void transaction::add_after_commit(std::function<void()> action) {
  after_commit_.push_back(std::move(action));
}

void transaction::merge_child(transaction& child) {
  for (write_entry& ce : child.writes_) {
    write_entry* pe = find_local(*ce.ref);
    if (!pe) {
      writes_.push_back(std::move(ce));
      index_entries();
    } else {
      if (pe->staged) retire(pe->staged);
      pe->staged = ce.staged;
      pe->has_set = pe->has_set || ce.has_set;
      if (ce.commutes) {
        if (pe->commutes) {
          pe->commutes->append(*ce.commutes);
        } else {
          pe->commutes = std::move(ce.commutes);
        }
      }
    }
    ce.staged = nullptr;
  }
  child.writes_.clear();
  child.index_.clear();
  ensures_.insert(ensures_.end(), child.ensures_.begin(), child.ensures_.end());
  for (auto& a : child.after_commit_) after_commit_.push_back(std::move(a));
  child.ensures_.clear();
  child.after_commit_.clear();
}

[[noreturn]] void transaction::conflict(const ref_core& r, bool yield_to_older) {
  throw conflict_signal{&r, yield_to_older};
}

// --- Lifecycle ---------------------------------------------------------------

void transaction::begin(const transaction_options* options) {
  options_ = options;
  ticket_ = 0;  // taken from the first attempt's read point
  attempts_ = 0;
  yielded_to_ = 0;
  if (!last_conflict_.empty()) last_conflict_.clear();
}

void transaction::start_attempt() {
  ++attempts_;
  // A first attempt starts at the newest stamp this thread has seen, without
  // reading the clock (see clock.cppm); a restart starts at the clock, so
  // that it does not meet the same newer versions again.
  if (attempts_ == 1) {
    read_point_ = announce_read_point();
    provisional_ = true;
  } else {
    read_point_ = announce_current_read_point();
    provisional_ = false;
  }
  announced_ = true;
  // Age = the first read point, tie-broken by thread; smaller is older.
  if (ticket_ == 0) ticket_ = ((read_point_ + 1) << 16) | (thread_tiebreak() & 0xFFFF);
}

// --- Moving a provisional read point forward ---------------------------------
//
// A provisional read point L may be older than the clock was when the
// attempt started. A ref whose newest version is newer than L may have been
// committed before the start, so the transaction must see it: it moves to
// the clock, if everything it has read, written or ensured is unchanged
// there. The clock value is announced beside L first (see clock.cppm), so
// that versions at it are kept while they are checked, and versions at L
// while the move may still fail.

bool transaction::touched_anything() const noexcept {
  if (!root_->reads_.empty()) return true;
  for (const transaction* t = this; t; t = t->parent_) {
    if (!t->writes_.empty() || !t->ensures_.empty()) return true;
  }
  return false;
}

void transaction::settle_for_read(const ref_core& r) {
  // Reading first, the transaction may go on to read many refs, and catching
  // up later could then fail and restart it: take the clock now instead,
  // which is what a read point taken at the start would have been.
  if (!touched_anything()) return advance_to_clock();  // nothing to check: cannot conflict
  if (r.latest_stamp() > root_->read_point_) catch_up(r);
}

bool transaction::was_read(const ref_core& r) const noexcept {
  for (const read_record& rec : root_->reads_) {
    if (rec.ref == &r) return true;
  }
  return false;
}

const ref_core* transaction::changed_at(std::uint64_t rp) const {
  const std::uint64_t old_rp = root_->read_point_;
  for (const read_record& rec : root_->reads_) {
    if (rec.ref->stamp_at(rp) != rec.stamp) return rec.ref;
  }
  for (const transaction* t = this; t; t = t->parent_) {
    for (const write_entry& e : t->writes_) {
      if (e.has_set && e.ref->stamp_at(rp) > old_rp) return e.ref;
    }
    for (const ref_core* r : t->ensures_) {
      if (r->stamp_at(rp) > old_rp) return r;
    }
  }
  return nullptr;
}

void transaction::catch_up(const ref_core& r) {
  // Newer versions of a ref already read were committed after that read,
  // so after the start: the snapshot stands.
  if (was_read(r)) return;
  advance_to_clock();
}

void transaction::catch_up_or_conflict(const ref_core& r) {
  if (!root_->provisional_ || was_read(r)) conflict(r, false);
  advance_to_clock();
  if (r.latest_stamp() > root_->read_point_) conflict(r, false);
}

void transaction::advance_to_clock() {
  const std::uint64_t clock = begin_read_point_move();
  // On a conflict the move is given up when the attempt ends.
  if (const ref_core* changed = changed_at(clock)) conflict(*changed, false);
  finish_read_point_move(clock);
  root_->read_point_ = clock;
  root_->provisional_ = false;
}

void transaction::release_writes() noexcept {
  for (write_entry& e : writes_) {
    if (e.staged) e.staged->release();
  }
  writes_.clear();
  index_.clear();
}

void transaction::release_retired() noexcept {
  for (version_base* v : retired_) v->release();
  retired_.clear();
}

void transaction::abandon_attempt() noexcept {
  release_writes();
  release_retired();
  ensures_.clear();
  after_commit_.clear();
  reads_.clear();
  locked_.clear();
  if (announced_) withdraw_read_point();
  announced_ = false;
}

void transaction::drop_claims() noexcept {
  for (const ref_core* r : claimed_) const_cast<ref_core*>(r)->drop_claim(ticket_);
  claimed_.clear();
}

void transaction::end() noexcept {
  if (!writes_.empty() || !retired_.empty() || !reads_.empty() || !ensures_.empty() ||
      !after_commit_.empty()) {
    abandon_attempt();
  } else if (announced_) {
    withdraw_read_point();
    announced_ = false;
  }
  if (!claimed_.empty()) drop_claims();
  options_ = nullptr;
}

void transaction::wait_while_claimed_by_older(const ref_core& r) {
  // A claim is a priority hint, not a lock: an older transaction whose body
  // blocks (or waits for this very thread) must not stall everyone, so the
  // wait is bounded (~64 spins, 192 yields, then at most ~5 ms of sleep).
  constexpr unsigned max_rounds = 256 + 100;
  for (unsigned round = 0; round < max_rounds; ++round) {
    std::uint64_t claim = r.claim();
    if (claim == 0 || claim >= ticket_) return;
    pause_for(round);
  }
}

void transaction::wait_for_older_claims(const std::vector<const ref_core*>& refs) {
  for (const ref_core* r : refs) wait_while_claimed_by_older(*r);
}

void transaction::commit() {
  if (writes_.empty() && ensures_.empty()) {  // read-only: nothing to publish
    for (auto& a : after_commit_) finish_.push_back(std::move(a));
    after_commit_.clear();
    reads_.clear();
    return;
  }

  if (writes_.size() == 1 && ensures_.empty()) return commit_one();

  locked_.clear();
  for (const write_entry& e : writes_) locked_.push_back(e.ref);
  locked_.insert(locked_.end(), ensures_.begin(), ensures_.end());
  std::sort(locked_.begin(), locked_.end());
  locked_.erase(std::unique(locked_.begin(), locked_.end()), locked_.end());

  // Younger transactions let an older one that keeps losing go first.
  wait_for_older_claims(locked_);
  // Sorted order: two committers can never wait for each other in a cycle.
  for (const ref_core* r : locked_) {
    for (unsigned round = 0; !const_cast<ref_core*>(r)->try_lock(); ++round) pause_for(round);
  }
  t_commit_locks = &locked_;
  auto unlock_all = [&] {
    for (const ref_core* r : locked_) const_cast<ref_core*>(r)->unlock();
    t_commit_locks = nullptr;
  };

  try {
    for (const write_entry& e : writes_) {
      if (e.has_set && e.ref->head()->stamp() > read_point_) conflict(*e.ref, false);
    }
    for (const ref_core* r : ensures_) {
      if (r->head()->stamp() > read_point_) conflict(*r, false);
    }
    for (write_entry& e : writes_) {
      if (e.commutes && !e.has_set) {
        version_base* fresh = e.commutes->apply(*e.ref->head());
        if (e.staged) retire(e.staged);
        e.staged = fresh;
      }
    }
    for (const write_entry& e : writes_) {
      if (e.ref->has_validator()) e.ref->validate(*e.staged);
    }
  } catch (...) {
    unlock_all();
    throw;
  }

  // From here on the transaction reads nothing but the refs it has locked
  // (which nobody else can trim), so its read point can go now: then the
  // versions this commit replaces are not kept alive for its own sake.
  announced_ = false;
  if (writes_.empty()) {
    withdraw_read_point();
  } else {
    withdraw_read_point_to_commit();
    std::uint64_t stamp = clock_tick();
    for (const ref_core* r : locked_) const_cast<ref_core*>(r)->set_lock_stamp(stamp);
    for (write_entry& e : writes_) publish_write(e, stamp);
  }
  bool wake = false;
  for (const ref_core* r : locked_) wake = wake || r->has_waiters();
  unlock_all();
  if (trimmer_.has_cut()) trimmer_.release_cut();
  if (wake) notify_retry_waiters();

  writes_.clear();
  index_.clear();
  ensures_.clear();
  reads_.clear();
  if (!after_commit_.empty()) {
    for (auto& a : after_commit_) finish_.push_back(std::move(a));
    after_commit_.clear();
  }
}

// Publishes the staged version of `e` with `stamp` (the caller holds the
// ref's commit lock), keeping the old version for its watches.
void transaction::publish_write(write_entry& e, std::uint64_t stamp) {
  auto* r = const_cast<ref_core*>(e.ref);
  if (r->has_watches()) {
    version_base* old_v = r->head();
    old_v->hold();
    e.staged->hold();
    watches_.push_back({r, old_v, e.staged});
  }
  e.staged->set_stamp(stamp);
  r->publish(e.staged, trimmer_);
  e.staged = nullptr;
  r->count_commit();
}

// commit() for the most common case, one written ref and no ensures: the
// same steps without the sorting and the loops.
void transaction::commit_one() {
  write_entry& e = writes_.front();
  auto* r = const_cast<ref_core*>(e.ref);
  if (std::uint64_t claim = r->claim(); claim != 0 && claim < ticket_) [[unlikely]] {
    wait_while_claimed_by_older(*r);
  }
  for (unsigned round = 0; !r->try_lock(); ++round) pause_for(round);
  locked_.clear();
  locked_.push_back(r);
  t_commit_locks = &locked_;
  try {
    if (e.has_set && r->head()->stamp() > read_point_) conflict(*r, false);
    if (e.commutes && !e.has_set) {
      version_base* fresh = e.commutes->apply(*r->head());
      if (e.staged) retire(e.staged);
      e.staged = fresh;
    }
    if (r->has_validator()) r->validate(*e.staged);
  } catch (...) {
    r->unlock();
    t_commit_locks = nullptr;
    throw;
  }
  withdraw_read_point_to_commit();  // see commit()
  announced_ = false;

  std::uint64_t stamp = clock_tick();
  r->set_lock_stamp(stamp);
  publish_write(e, stamp);
  bool wake = r->has_waiters();
  r->unlock();
  t_commit_locks = nullptr;
  if (trimmer_.has_cut()) [[unlikely]] trimmer_.release_cut();
  if (wake) notify_retry_waiters();

  writes_.clear();
  index_.clear();
  reads_.clear();
  if (!after_commit_.empty()) {
    for (auto& a : after_commit_) finish_.push_back(std::move(a));
    after_commit_.clear();
  }
}

void transaction::count_restart() noexcept {
  for (const write_entry& e : writes_) {
    if (!parent_ || !parent_->find_entry(*e.ref)) const_cast<ref_core*>(e.ref)->count_retry();
  }
}

void transaction::handle_conflict(const conflict_signal& c) {
  const_cast<ref_core*>(c.ref)->count_conflict();
  count_restart();
  abandon_attempt();
  last_conflict_ = c.ref->describe();
  static const transaction_options defaults;
  const transaction_options& options = options_ ? *options_ : defaults;
  if (attempts_ >= options.max_attempts) {
    std::string who = options.name.empty() ? "a transaction" : "transaction '" + options.name + "'";
    drop_claims();
    throw retry_limit_exceeded(
        who + " gave up after " + std::to_string(attempts_) +
            " attempts; the last conflict was on ref " + last_conflict_ +
            ", which other transactions kept changing. Reduce contention on that ref or raise "
            "transaction_options::max_attempts",
        attempts_);
  }
  if (c.yield_to_older) {
    yielded_to_ = c.ref->claim();  // yield once per claim, then go ahead
    wait_while_claimed_by_older(*c.ref);
    return;
  }
  if (attempts_ >= 2) {
    const_cast<ref_core*>(c.ref)->make_claim(ticket_);
    if (std::find(claimed_.begin(), claimed_.end(), c.ref) == claimed_.end()) claimed_.push_back(c.ref);
  }
  // Randomized exponential backoff so that colliding transactions spread out.
  unsigned limit = 1u << std::min<std::uint64_t>(attempts_, 10);
  unsigned spins = static_cast<unsigned>(cheap_random() % limit);
  for (unsigned i = 0; i < spins; ++i) cpu_relax();
  if (attempts_ > 16) std::this_thread::yield();
}

void transaction::block_until_read_set_changes() {
  count_restart();
  std::vector<read_record> reads = std::move(reads_);
  reads_.clear();
  abandon_attempt();
  drop_claims();  // never make younger transactions wait on a sleeper
  if (reads.empty()) {
    throw error(
        "retry() would block forever: the transaction has read no ref, so no commit could wake it");
  }
  std::sort(reads.begin(), reads.end(),
            [](const read_record& a, const read_record& b) { return a.ref < b.ref; });
  reads.erase(std::unique(reads.begin(), reads.end(),
                          [](const read_record& a, const read_record& b) { return a.ref == b.ref; }),
              reads.end());
  for (const read_record& r : reads) const_cast<ref_core*>(r.ref)->add_waiter();
  auto changed = [&] {
    for (const read_record& r : reads) {
      if (r.ref->latest_stamp() != r.stamp) return true;
    }
    return false;
  };
  {
    std::unique_lock<std::mutex> lock(g_wait_mu);
    g_wait_cv.wait(lock, changed);
  }
  for (const read_record& r : reads) const_cast<ref_core*>(r.ref)->remove_waiter();
}

void transaction::run_pending_finish_actions() {
  // Move everything out first: an action may start a new transaction on this
  // thread, which reuses this object.
  std::vector<pending_watch> watches = std::move(watches_);
  std::vector<std::function<void()>> actions = std::move(finish_);
  watches_.clear();
  finish_.clear();
  std::exception_ptr first;
  for (pending_watch& w : watches) {
    try {
      w.ref->notify_watches(*w.old_v, *w.new_v);
    } catch (...) {
      if (!first) first = std::current_exception();
    }
    w.old_v->release();
    w.new_v->release();
  }
  for (auto& a : actions) {
    try {
      a();
    } catch (...) {
      if (!first) first = std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
}

}  // namespace instadump::detail

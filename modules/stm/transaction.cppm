// transaction: the state of one running dosync (or one or_else branch).
//
// A top-level dosync runs a root transaction: it reads every ref at one read
// point, keeps its writes private in a write set, and publishes them at
// commit under the refs' commit locks with one new clock stamp. An or_else
// branch runs in a child transaction whose writes stay separate from its
// parent's until the branch succeeds, so a branch that retries can be thrown
// away without touching what the parent did.
//
// Isolation: snapshot isolation (every read sees the state as of the read
// point; a commit fails if a ref it writes was committed by someone else
// after that point). Refs passed to ensure() are validated and locked at
// commit too, so whatever the transaction decided from them is serializable.
module;
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>
export module instadump:transaction;
import :errors;
import :version;
import :ref_core;
import :write_index;
import :pins;

namespace instadump::detail {

// Type-erased list of pending commute functions of one ref.
class commute_list_base {
 public:
  virtual ~commute_list_base() = default;
  // A new version holding the functions applied in order to `base`.
  virtual version_base* apply(const version_base& base) const = 0;
  // Moves `later`'s functions to the end of this list.
  virtual void append(commute_list_base& later) = 0;
};

struct write_entry {
  const ref_core* ref = nullptr;
  version_base* staged = nullptr;  // held by the transaction until published
  std::unique_ptr<commute_list_base> commutes;
  bool has_set = false;  // set/alter: the stamp is validated at commit
};

struct read_record {
  const ref_core* ref = nullptr;
  std::uint64_t stamp = 0;
};

// Thrown through the user's transaction body to restart it; never escapes
// dosync. Not derived from std::exception so that `catch (std::exception&)`
// in a body does not swallow it (a `catch (...)` that does not rethrow will).
struct conflict_signal {
  const ref_core* ref;
  bool yield_to_older;
};
struct retry_signal {};

}  // namespace instadump::detail

export namespace instadump {

// Options of one top-level transaction (see dosync).
struct transaction_options {
  // Attempts before giving up with retry_limit_exceeded. Default: 10,000
  // (as in Clojure).
  std::uint64_t max_attempts = 10'000;
  // Shown in error messages. Default: none.
  std::string name;
};

}  // namespace instadump

namespace instadump::detail {

class transaction {
 public:
  // A root transaction (reused per thread; see begin()).
  transaction() = default;
  // A child (or_else branch) of `parent`.
  inline explicit transaction(transaction& parent) : parent_(&parent), root_(parent.root_) {}
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;
  ~transaction();

  inline bool is_root() const noexcept { return parent_ == nullptr; }
  // The read point, first moved up to the clock if it may be older (see
  // clock.cppm), for a caller that reads refs with version_at / stamp_at
  // itself. Throws conflict_signal if that invalidates what was read.
  inline std::uint64_t current_read_point() {
    if (root_->provisional_) [[unlikely]] advance_to_clock();
    return root_->read_point_;
  }

  // The version the transaction sees for `r`: its own write, an enclosing
  // branch's write, or the snapshot at the read point (logged as a read).
  inline const version_base& view(const ref_core& r) {
    if (writes_.empty() && !parent_) [[likely]] return read(r);  // nothing of its own to see
    return view_of_writes(r);
  }

  // The entry for a write to `r` in this branch, created on first use.
  // Throws conflict_signal if `r` changed since the read point or an older
  // transaction has claimed it.
  inline write_entry& entry_for_write(const ref_core& r, bool check_conflicts) {
    // The common first write of a top-level transaction skips the searches.
    if (writes_.empty() && !parent_) [[likely]] return new_entry(r, check_conflicts);
    return find_or_add_entry(r, check_conflicts);
  }

  // Nearest entry for `r` in this branch or its ancestors, or null.
  write_entry* find_entry(const ref_core& r) noexcept;

  // True if an enclosing branch (not this one) has commuted `r`.
  inline bool has_inherited_commutes(const ref_core& r) noexcept {
    return parent_ && parent_->has_commutes(r);
  }
  bool has_commutes(const ref_core& r) noexcept;

  // view() of the ref of `e`, an entry of this branch: its staged value if
  // it has one. Saves the lookups view() does.
  inline const version_base& view_for_write(write_entry& e) {
    if (e.staged) return *e.staged;
    if (!parent_) return read(*e.ref);
    return view(*e.ref);
  }

  // Makes `v` the ref's new value without reading the old one: a blind
  // write, which never conflicts. Takes over one hold on `v`. Used to install
  // loaded snapshots.
  void install(const ref_core& r, version_base* v);

  void add_ensure(const ref_core& r);
  void add_after_commit(std::function<void()> action);

  // Keeps a replaced staged version alive until the root transaction ends,
  // so references handed out to the body stay valid.
  inline void retire(version_base* v) { root_->retired_.push_back(v); }

  // Moves a finished branch's writes, ensures and actions into this one.
  void merge_child(transaction& child);

  // --- Root transaction lifecycle (used by dosync) ---
  // `options` may be null: the defaults.
  void begin(const transaction_options* options);
  // Starts (or restarts) an attempt at a fresh read point.
  void start_attempt();
  // Publishes the writes. Throws conflict_signal (restart) or
  // validation_failed (give up). On return the writes are published and the
  // read point is withdrawn; end() must follow, then run_finish_actions().
  void commit();
  // Decides what to do after a conflict: backs off and returns to restart, or
  // throws retry_limit_exceeded.
  void handle_conflict(const conflict_signal& c);
  // Counts a restart of the attempt in the stats of the refs this branch has
  // written (those an enclosing branch wrote too are counted by that one).
  void count_restart() noexcept;
  // Blocks until a ref the attempt read changes (for retry()).
  void block_until_read_set_changes();
  // Discards the attempt's writes and withdraws the read point.
  void abandon_attempt() noexcept;
  // Ends the top-level transaction: drops fairness claims.
  void end() noexcept;
  // Runs the watches and after-commit actions collected by commit();
  // rethrows the first exception one of them threw, after running all.
  inline void run_finish_actions() {
    if (!watches_.empty() || !finish_.empty()) [[unlikely]] run_pending_finish_actions();
  }

 private:
  write_entry* find_local(const ref_core& r) noexcept;
  write_entry& find_or_add_entry(const ref_core& r, bool check_conflicts);
  // Appends an entry for `r` (not yet in this branch or its ancestors);
  // fails early, as Clojure does, if the commit would fail anyway.
  inline write_entry& new_entry(const ref_core& r, bool check_conflicts) {
    if (check_conflicts) {
      if (r.latest_stamp() > root_->read_point_) catch_up_or_conflict(r);
      std::uint64_t claim = r.claim();
      if (claim != 0 && claim < root_->ticket_ && claim != root_->yielded_to_) [[unlikely]] conflict(r, true);
    }
    // Built in place, field by field: a temporary copied in would be read
    // back as wider words than it was written with, which stalls store
    // forwarding on the hottest path of a transaction.
    write_entry& e = writes_.emplace_back();
    e.ref = &r;
    if (writes_.size() >= index_threshold) [[unlikely]] index_entries();
    return writes_.back();
  }
  static constexpr std::size_t index_threshold = 16;
  void commit_one();
  void publish_write(write_entry& e, std::uint64_t stamp);
  // Reads `r` at the read point and logs the read.
  [[gnu::always_inline]] inline const version_base& read(const ref_core& r) {
    // Inline, the common case of a provisional point: a transaction that
    // wrote first reading a ref nobody changed since (see settle_for_read).
    if (root_->provisional_ && (r.latest_stamp() > root_->read_point_ ||
                                (writes_.empty() && root_->reads_.empty()))) [[unlikely]] {
      settle_for_read(r);
    }
    version_base* v = r.version_at(root_->read_point_);
    read_record& log = root_->reads_.emplace_back();  // in place, as in new_entry
    log.ref = &r;
    log.stamp = v->stamp();
    return *v;
  }
  // Before a read at a provisional read point: a transaction that starts by
  // reading moves to the clock (so it never has to restart for being
  // behind); one that started with a write catches up if `r` is newer.
  void settle_for_read(const ref_core& r);
  bool touched_anything() const noexcept;
  // Moves a provisional read point to the clock, so that it sees `r`'s
  // newest version, unless `r` was read already; throws conflict_signal if
  // what was read or written since the start differs there.
  void catch_up(const ref_core& r);
  // For a write to `r`, which has changed since the read point: catches up
  // if the read point is provisional and `r` was not read yet, and fails the
  // attempt otherwise.
  void catch_up_or_conflict(const ref_core& r);
  // Moves the read point to the clock (throws conflict_signal if what was
  // read or written since the start differs there).
  void advance_to_clock();
  bool was_read(const ref_core& r) const noexcept;
  // The first ref read, written or ensured so far whose version at `rp`
  // differs from the one the attempt has used, or null.
  const ref_core* changed_at(std::uint64_t rp) const;
  void index_entries();
  void run_pending_finish_actions();
  const version_base& view_of_writes(const ref_core& r);
  void release_writes() noexcept;
  void wait_for_older_claims(const std::vector<const ref_core*>& refs);
  void wait_while_claimed_by_older(const ref_core& r);
  void drop_claims() noexcept;
  void release_retired() noexcept;
  [[noreturn]] void conflict(const ref_core& r, bool yield_to_older);

  transaction* parent_ = nullptr;
  transaction* root_ = this;

  // Per branch.
  std::vector<write_entry> writes_;
  write_index index_;  // of writes_, when it is large
  std::vector<const ref_core*> ensures_;
  std::vector<std::function<void()>> after_commit_;

  // Root only.
  std::uint64_t read_point_ = 0;
  bool announced_ = false;  // read_point_ is announced (see clock.cppm)
  // read_point_ may be older than the clock was when the attempt started: a
  // ref with a newer version is a reason to move forward, not the snapshot.
  // A transaction that writes before it reads keeps such a point, so that a
  // commit to a ref no other thread touches never reads the clock's cache
  // line; see settle_for_read.
  bool provisional_ = false;
  std::uint64_t ticket_ = 0;
  std::uint64_t attempts_ = 0;
  std::uint64_t yielded_to_ = 0;  // claim this transaction already waited for
  const transaction_options* options_ = nullptr;
  std::vector<read_record> reads_;
  std::vector<version_base*> retired_;
  std::vector<const ref_core*> claimed_;
  std::vector<const ref_core*> locked_;
  trimmer trimmer_;  // for the chains this thread's commits trim
  struct pending_watch {
    const ref_core* ref;
    version_base* old_v;
    version_base* new_v;
  };
  std::vector<pending_watch> watches_;
  std::vector<std::function<void()>> finish_;
  std::string last_conflict_;
};

inline thread_local constinit transaction* t_current_transaction = nullptr;

// The calling thread's innermost running transaction, or null.
inline transaction* current_transaction() noexcept { return t_current_transaction; }
inline void set_current_transaction(transaction* t) noexcept {
  t_current_transaction = t;
  set_pins_in_transaction(t != nullptr);
}
inline thread_local constinit transaction* t_root_transaction = nullptr;
transaction& make_thread_root_transaction();
// The calling thread's reusable root transaction.
inline transaction& thread_root_transaction() {
  return t_root_transaction ? *t_root_transaction : make_thread_root_transaction();
}
// True if the calling thread is committing and holds `r`'s commit lock.
bool committing_thread_holds(const ref_core* r) noexcept;

[[noreturn]] void throw_no_transaction(const char* what);

// Returns the current transaction or throws no_transaction naming `what`.
inline transaction& require_transaction(const char* what) {
  if (!t_current_transaction) [[unlikely]] throw_no_transaction(what);
  return *t_current_transaction;
}

}  // namespace instadump::detail

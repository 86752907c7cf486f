// ref<T>: a transactional reference to an immutable value of type T.
//
// The analog of a Clojure ref. Every change happens inside instadump::dosync
// and becomes visible to other threads atomically at commit, together with the
// transaction's other changes; readers never block writers and writers never
// block readers (see transaction.cppm for the isolation guarantees).
//
//   instadump::ref<int> counter{150};          // usable as a global
//   int now = counter.deref();
//   instadump::dosync([] { counter.alter([](int v) { return v + 1; }); });
//
// A ref must outlive every transaction and thread that uses it. It is neither
// copyable nor movable (transactions and the state registry refer to it by
// address). T must be copy-constructible.
module;
#include <atomic>
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>
export module instadump:ref;
import :errors;
import :version;
import :ref_core;
import :pins;
import :clock;
import :transaction;

namespace instadump::detail {

template <class T>
class commute_list final : public commute_list_base {
 public:
  std::vector<std::function<T(const T&)>> fns;

  version_base* apply(const version_base& base) const override {
    T value = static_cast<const version<T>&>(base).value;
    for (const auto& f : fns) value = f(value);
    return new version<T>(0, std::move(value));
  }
  void append(commute_list_base& later) override {
    auto& other = static_cast<commute_list&>(later);
    for (auto& f : other.fns) fns.push_back(std::move(f));
    other.fns.clear();
  }
};

}  // namespace instadump::detail

export namespace instadump {

template <class T>
class ref final : private detail::ref_core {
  static_assert(std::is_copy_constructible_v<T>, "instadump::ref<T> needs a copy-constructible T");
  static_assert(!std::is_reference_v<T> && !std::is_const_v<T>, "use ref<T> with a plain value type");

 public:
  using value_type = T;
  using validator_fn = std::function<bool(const T&)>;
  using watch_fn = std::function<void(const T& old_value, const T& new_value)>;

  // A ref holding T{}.
  constexpr ref() requires std::default_initializable<T> : ref_core(rescan_length), initial_() {}
  // A ref holding `initial` until a transaction changes it (or the snapshot
  // store loads a saved value). constexpr, so `constinit` globals work.
  constexpr ref(const T& initial) : ref_core(rescan_length), initial_(initial) {}
  constexpr ref(T&& initial) : ref_core(rescan_length), initial_(std::move(initial)) {}
  // A ref holding T(args...).
  template <class... Args>
    requires std::constructible_from<T, Args...>
  constexpr explicit ref(std::in_place_t, Args&&... args)
      : ref_core(rescan_length), initial_(std::forward<Args>(args)...) {}

  ~ref() { destroy_chain(); }

  // Contention counters of this ref; see ref_stats.
  using detail::ref_core::reset_stats;
  using detail::ref_core::stats;
  // Versions the ref currently keeps (1 unless long readers need older ones).
  using detail::ref_core::chain_length;
  // The name used in error messages (set by the state registry).
  using detail::ref_core::name;
  using detail::ref_core::set_name;

  // The type-independent core, for the library's own machinery.
  inline detail::ref_core& core() noexcept { return *this; }
  inline const detail::ref_core& core() const noexcept { return *this; }

  // The ref's value.
  //
  // Inside a transaction: the value as of the transaction's read point, or
  // the transaction's own latest write to this ref. Nothing is copied. The
  // reference stays valid until the transaction ends, and a later write to
  // this ref in the same transaction changes what it shows.
  //
  // Outside a transaction: the newest committed value. Nothing is copied and
  // the call is safe while other threads commit. The calling thread pins the
  // returned version: the reference stays valid at least until the end of
  // the full expression, and in fact until this thread has called deref() on
  // this ref outside a transaction twice more (or release_thread_pins(), or
  // the thread exits). To keep a value longer, copy it (`T v = r.deref();`)
  // or hold a pin() handle, which costs O(1) whatever the size of T.
  [[gnu::always_inline]] inline const T& deref() const {
    // Fast path: no transaction, and this thread's pin cache says it pins
    // the newest version already (see pins.cppm).
    const detail::version_base* v = head_if_created();
    if (!detail::thread_caches_newest(&core(), v)) [[unlikely]] v = deref_uncached(v);
    return value_of(*v);
  }

  // A handle that keeps the value deref() would return alive for as long as
  // the handle lives, in O(1). Inside a transaction this is the transaction's
  // view (which may be its own, not yet committed, write).
  pinned<T> pin() const {
    detail::version_base* v;
    if (detail::transaction* tx = detail::current_transaction()) {
      v = const_cast<detail::version_base*>(&tx->view(*this));
      v->hold();
    } else {
      std::uint64_t rp = detail::announce_read_point();
      v = hold_newest(rp);
      detail::withdraw_read_point();
    }
    return pinned<T>::adopt(static_cast<detail::version<T>*>(v));
  }

  // Clojure's ref-set: makes `value` the ref's in-transaction value.
  // Returns it. Throws no_transaction outside a transaction, and
  // illegal_transaction_state after commute() on this ref in this transaction.
  const T& set(T value) {
    detail::transaction& tx = detail::require_transaction("ref::set()");
    detail::write_entry& e = tx.entry_for_write(*this, true);
    if (e.commutes || tx.has_inherited_commutes(*this)) throw_set_after_commute("set");
    return store(e, std::move(value), true);
  }

  // Clojure's alter: sets the ref to f(current value, args...) and returns the
  // new in-transaction value. Throws as set() does.
  template <class F, class... Args>
    requires std::is_invocable_v<F&, const T&, Args&...>
  const T& alter(F&& f, Args&&... args) {
    detail::transaction& tx = detail::require_transaction("ref::alter()");
    detail::write_entry& e = tx.entry_for_write(*this, true);
    if (e.commutes || tx.has_inherited_commutes(*this)) throw_set_after_commute("alter");
    T next = std::invoke(f, value_of(tx.view_for_write(e)), args...);
    return store(e, std::move(next), true);
  }

  // Clojure's commute: sets the in-transaction value to f(current, args...)
  // and returns it; at commit, f is applied again to the newest committed
  // value instead. Never makes the transaction retry. Use it only for
  // order-independent updates (increments, adding to a set). f and args are
  // copied and may be called more than once.
  template <class F, class... Args>
    requires std::is_invocable_r_v<T, std::decay_t<F>&, const T&, std::decay_t<Args>&...>
  const T& commute(F&& f, Args&&... args) {
    detail::transaction& tx = detail::require_transaction("ref::commute()");
    detail::write_entry& e = tx.entry_for_write(*this, false);
    std::function<T(const T&)> fn = [f = std::forward<F>(f), ... a = std::forward<Args>(args)](
                                         const T& v) mutable -> T { return std::invoke(f, v, a...); };
    T next = fn(value_of(tx.view(*this)));
    if (!e.commutes) e.commutes = std::make_unique<detail::commute_list<T>>();
    static_cast<detail::commute_list<T>&>(*e.commutes).fns.push_back(std::move(fn));
    return store(e, std::move(next), false);
  }

  // Protects the ref from writes by other transactions until this one
  // commits: the commit fails (and retries) if another transaction commits
  // the ref after this one's read point. Prevents write skew. Returns the
  // in-transaction value. Throws no_transaction outside a transaction.
  const T& ensure() {
    detail::transaction& tx = detail::require_transaction("ref::ensure()");
    // Read first: a transaction that starts with ensure() is a reader as far
    // as its read point is concerned (see transaction::settle_for_read).
    const T& value = value_of(tx.view(*this));
    tx.add_ensure(*this);
    return value;
  }

  // Installs a validator: every commit that would give the ref a value for
  // which `valid` returns false (or throws) fails with validation_failed and
  // changes nothing. Throws validation_failed, and keeps the old validator,
  // if the current value is already invalid. An empty function removes it.
  void set_validator(validator_fn valid) {
    if (valid && !valid(deref())) {
      throw validation_failed("the current value of ref " + describe() + " fails the new validator");
    }
    std::lock_guard<std::mutex> lock(mu_);
    validator_ = valid ? std::make_shared<const validator_fn>(std::move(valid)) : nullptr;
    set_has_validator(validator_ != nullptr);
  }

  // Calls `fn(old, new)` after every commit that changes the ref, on the
  // committing thread, outside the transaction. Replaces a watch with the
  // same key.
  void add_watch(std::string key, watch_fn fn) {
    std::lock_guard<std::mutex> lock(mu_);
    auto next = std::make_shared<std::vector<std::pair<std::string, watch_fn>>>(
        watches_ ? *watches_ : std::vector<std::pair<std::string, watch_fn>>{});
    std::erase_if(*next, [&](const auto& w) { return w.first == key; });
    next->emplace_back(std::move(key), std::move(fn));
    watches_ = std::move(next);
    set_has_watches(true);
  }

  // Removes the watch with `key`; returns whether there was one.
  bool remove_watch(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!watches_) return false;
    auto next = std::make_shared<std::vector<std::pair<std::string, watch_fn>>>(*watches_);
    bool removed = std::erase_if(*next, [&](const auto& w) { return w.first == key; }) > 0;
    watches_ = next->empty() ? nullptr : std::move(next);
    set_has_watches(watches_ != nullptr);
    return removed;
  }

  // --- ref_core hooks (used by transactions) ---
  // Runs once per ref (see ref_core::init_head): the default moves into the
  // first version rather than being kept twice. (A move that may throw is a
  // copy, so a failure leaves the default as it was.)
  detail::version_base* make_initial_version() const override {
    return new detail::version<T>(0, std::move_if_noexcept(initial_));
  }
  detail::version_base* copy_version(const detail::version_base& v) const override {
    return new detail::version<T>(0, value_of(v));
  }
  void validate(const detail::version_base& v) const override {
    if (!has_validator()) return;
    std::shared_ptr<const validator_fn> valid;
    {
      std::lock_guard<std::mutex> lock(mu_);
      valid = validator_;
    }
    bool ok = false;
    try {
      ok = !valid || (*valid)(value_of(v));
    } catch (const std::exception& e) {
      throw validation_failed("the validator of ref " + describe() + " threw: " + e.what());
    }
    if (!ok) throw validation_failed("the validator of ref " + describe() + " rejected the new value");
  }
  void notify_watches(const detail::version_base& old_v, const detail::version_base& new_v) const override {
    std::shared_ptr<const std::vector<std::pair<std::string, watch_fn>>> ws;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ws = watches_;
    }
    if (!ws) return;
    for (const auto& w : *ws) w.second(value_of(old_v), value_of(new_v));
  }

 private:
  // Old versions are cut once the chain is longer than this and no reader
  // can see them. Finding out reads every thread's read point, which on a
  // multi-core machine costs a cache miss per busy thread; for small values
  // that own no memory it is cheaper to let a few versions pile up and cut
  // them in one go. Values that may be large are cut as soon as possible.
  static constexpr std::uint32_t rescan_length = std::is_trivially_copyable_v<T> && sizeof(T) <= 64 ? 8 : 2;

  static const T& value_of(const detail::version_base& v) noexcept {
    return static_cast<const detail::version<T>&>(v).value;
  }

  const T& store(detail::write_entry& e, T&& value, bool is_set) {
    if (e.staged) {
      static_cast<detail::version<T>*>(e.staged)->value = std::move(value);
    } else {
      e.staged = new detail::version<T>(0, std::move(value));
    }
    e.has_set = e.has_set || is_set;
    return value_of(*e.staged);
  }

  // The version deref() reads when the thread's pin cache has no entry for
  // `newest` (the ref's head when deref() loaded it): the transaction's
  // view; or the table's pin, when another ref took the cache entry; or a
  // new pin of the newest version.
  [[gnu::noinline]] const detail::version_base* deref_uncached(const detail::version_base* newest) const {
    if (detail::thread_pins_newest(pin_slot(), newest)) {
      detail::cache_thread_pin(&core(), newest);
      return newest;
    }
    if (detail::transaction* tx = detail::current_transaction()) return &tx->view(*this);
    return pin_newest();
  }

  [[noreturn]] void throw_set_after_commute(const char* op) const {
    throw illegal_transaction_state(std::string("ref::") + op + "() after commute() on ref " + describe() +
                                    " in the same transaction: the commute would be lost");
  }

  mutable T initial_;  // the default until the first version is made from it
  mutable std::mutex mu_;  // guards validator_ and watches_
  std::shared_ptr<const validator_fn> validator_;
  std::shared_ptr<const std::vector<std::pair<std::string, watch_fn>>> watches_;
};

}  // namespace instadump

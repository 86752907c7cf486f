// dosync, retry, or_else and after_commit: running transactions.
module;
#include <concepts>
#include <functional>
#include <type_traits>
#include <utility>
export module instadump:dosync;
import :errors;
import :transaction;

namespace instadump::detail {

// Owns the calling thread's root transaction for one top-level dosync.
class root_scope {
 public:
  inline root_scope(transaction& tx, const transaction_options* options) : tx_(tx) {
    tx_.begin(options);
    set_current_transaction(&tx_);
  }
  root_scope(const root_scope&) = delete;
  root_scope& operator=(const root_scope&) = delete;
  inline ~root_scope() {
    if (!finished_) {
      tx_.end();
      set_current_transaction(nullptr);
    }
  }
  // After a successful commit: leaves the transaction, then runs the watches
  // and after-commit actions (which may start transactions of their own).
  inline void finish() {
    finished_ = true;
    tx_.end();
    set_current_transaction(nullptr);
    tx_.run_finish_actions();
  }

 private:
  transaction& tx_;
  bool finished_ = false;
};

// dosync's loop; options may be null (the defaults).
template <class F>
std::invoke_result_t<F&> run_transaction(const transaction_options* options, F& body) {
  using result = std::invoke_result_t<F&>;
  if (detail::current_transaction()) return std::invoke(body);
  detail::transaction& tx = detail::thread_root_transaction();
  detail::root_scope scope(tx, options);
  for (;;) {
    tx.start_attempt();
    try {
      if constexpr (std::is_void_v<result>) {
        std::invoke(body);
        tx.commit();
        scope.finish();
        return;
      } else {
        result value = std::invoke(body);
        tx.commit();
        scope.finish();
        return value;
      }
    } catch (const detail::conflict_signal& c) {
      tx.handle_conflict(c);
    } catch (const detail::retry_signal&) {
      tx.block_until_read_set_changes();
    } catch (...) {
      tx.abandon_attempt();
      throw;
    }
  }
}


}  // namespace instadump::detail

export namespace instadump {

// Runs `body` as a transaction and returns its result.
//
// All refs `body` reads show one consistent snapshot; all its writes become
// visible to other threads at once when it commits. When another transaction
// commits a conflicting write first, `body` runs again from the start, so it
// must have no side effects besides ref operations (use after_commit() for
// those). Called inside a running transaction, dosync joins it.
//
// Throws whatever `body` throws (the transaction changes nothing),
// validation_failed when a validator rejects a new value, and
// retry_limit_exceeded after options.max_attempts conflicting attempts. If a
// watch or after-commit action throws, the others still run, the
// transaction stays committed, and the first such exception is rethrown.
template <class F>
  requires std::invocable<F&>
std::invoke_result_t<F&> dosync(const transaction_options& options, F&& body) {
  return detail::run_transaction(&options, body);
}

template <class F>
  requires std::invocable<F&>
std::invoke_result_t<F&> dosync(F&& body) {
  return detail::run_transaction(nullptr, body);
}

// True if the calling thread is inside a transaction.
inline bool in_transaction() noexcept { return detail::current_transaction() != nullptr; }

// Abandons the current attempt and blocks until one of the refs it has read
// is changed by another commit, then runs the transaction again (Haskell
// STM's retry). Inside or_else's first branch, runs the second branch
// instead. Throws no_transaction outside a transaction; throws error if the
// transaction has read no ref (it could never wake).
[[noreturn]] inline void retry() {
  detail::require_transaction("instadump::retry()");
  throw detail::retry_signal{};
}

// Runs `action` once, after the current transaction commits (never if it
// does not). The place for side effects: I/O, notifications, logging.
// Throws no_transaction outside a transaction.
inline void after_commit(std::function<void()> action) {
  detail::require_transaction("instadump::after_commit()").add_after_commit(std::move(action));
}

// Runs `first`; if it calls retry(), undoes everything it did and runs
// `second` instead (Haskell STM's orElse). If `second` retries too, the whole
// transaction waits for a change to anything either branch read. Outside a
// transaction, runs as its own transaction. Returns the branch's result.
template <class A, class B>
  requires std::invocable<A&> && std::invocable<B&>
std::common_type_t<std::invoke_result_t<A&>, std::invoke_result_t<B&>> or_else(A&& first, B&& second) {
  using result = std::common_type_t<std::invoke_result_t<A&>, std::invoke_result_t<B&>>;
  detail::transaction* parent = detail::current_transaction();
  if (!parent) return dosync([&]() -> result { return or_else(first, second); });
  {
    detail::transaction branch(*parent);
    detail::set_current_transaction(&branch);
    try {
      if constexpr (std::is_void_v<result>) {
        std::invoke(first);
        parent->merge_child(branch);
        detail::set_current_transaction(parent);
        return;
      } else {
        result value = std::invoke(first);
        parent->merge_child(branch);
        detail::set_current_transaction(parent);
        return value;
      }
    } catch (const detail::retry_signal&) {
      detail::set_current_transaction(parent);
    } catch (const detail::conflict_signal&) {
      branch.count_restart();  // the whole transaction restarts
      detail::set_current_transaction(parent);
      throw;
    } catch (...) {
      detail::set_current_transaction(parent);
      throw;
    }
  }
  return std::invoke(second);
}

}  // namespace instadump

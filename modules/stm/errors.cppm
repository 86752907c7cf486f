// Exception types thrown by Instadump.
//
// Every error derives from instadump::error (a std::runtime_error), so a
// caller can catch them all at once; the subclasses say what went wrong and
// so what the caller can do about it. Messages name the ref, transaction or
// file involved and, where there is one, the fix.
module;
#include <cstdint>
#include <stdexcept>
#include <string>
export module instadump:errors;

export namespace instadump {

// Base of every exception Instadump throws.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A write (set, alter, commute, ensure), retry() or after_commit() was
// called outside a transaction. Wrap the call in instadump::dosync.
class no_transaction : public error {
 public:
  using error::error;
};

// A ref's validator rejected the value a transaction was about to commit.
// The transaction changed nothing.
class validation_failed : public error {
 public:
  using error::error;
};

// A transaction conflicted more often than its retry limit allows. The
// message names the ref of the last conflict; the transaction changed nothing.
class retry_limit_exceeded : public error {
 public:
  retry_limit_exceeded(const std::string& what, std::uint64_t attempts)
      : error(what), attempts_(attempts) {}
  std::uint64_t attempts() const noexcept { return attempts_; }

 private:
  std::uint64_t attempts_;
};

// An operation that is illegal in the current transaction state, such as
// set() after commute() on the same ref (the commute would be lost).
class illegal_transaction_state : public error {
 public:
  using error::error;
};

}  // namespace instadump

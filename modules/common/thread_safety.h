// Lock types the compiler can check: clang's thread-safety analysis
// (-Wthread-safety, an error in this project's own build) proves at compile
// time that data marked GUARDED_BY(m) is touched only with m held, and that
// mutexes are taken in the order ACQUIRED_AFTER / ACQUIRED_BEFORE declare.
//
// libstdc++'s std::mutex carries no capability attributes, so the analysis
// cannot see it; `mutex` and `shared_mutex` below are thin annotated
// wrappers (same size, same cost: every member is an inline forward).
//
//   class counter {
//     instadump::detail::mutex mu_;
//     int n_ GUARDED_BY(mu_) = 0;
//    public:
//     void add() EXCLUDES(mu_) { instadump::detail::lock_guard lock(mu_); ++n_; }
//   };
//
// A plain header (not a module partition): the storage layer, which is not
// part of the module, uses it too.
#pragma once

#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#if defined(__clang__)
#define INSTADUMP_TSA(x) __attribute__((x))
#else
#define INSTADUMP_TSA(x)
#endif

#define CAPABILITY(x) INSTADUMP_TSA(capability(x))
#define SCOPED_CAPABILITY INSTADUMP_TSA(scoped_lockable)
#define GUARDED_BY(x) INSTADUMP_TSA(guarded_by(x))
#define PT_GUARDED_BY(x) INSTADUMP_TSA(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) INSTADUMP_TSA(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) INSTADUMP_TSA(acquired_after(__VA_ARGS__))
#define REQUIRES(...) INSTADUMP_TSA(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) INSTADUMP_TSA(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) INSTADUMP_TSA(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) INSTADUMP_TSA(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) INSTADUMP_TSA(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) INSTADUMP_TSA(release_shared_capability(__VA_ARGS__))
#define RELEASE_GENERIC(...) INSTADUMP_TSA(release_generic_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) INSTADUMP_TSA(try_acquire_capability(__VA_ARGS__))
#define EXCLUDES(...) INSTADUMP_TSA(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) INSTADUMP_TSA(assert_capability(x))
#define RETURN_CAPABILITY(x) INSTADUMP_TSA(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS INSTADUMP_TSA(no_thread_safety_analysis)

namespace instadump::detail {

// std::mutex, visible to the analysis.
class CAPABILITY("mutex") mutex {
 public:
  void lock() ACQUIRE() { m_.lock(); }
  void unlock() RELEASE() { m_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return m_.try_lock(); }
  // The wrapped mutex, for std::condition_variable (see unique_lock below).
  std::mutex& native() noexcept { return m_; }

 private:
  std::mutex m_;
};

// std::shared_mutex, visible to the analysis.
class CAPABILITY("mutex") shared_mutex {
 public:
  void lock() ACQUIRE() { m_.lock(); }
  void unlock() RELEASE() { m_.unlock(); }
  void lock_shared() ACQUIRE_SHARED() { m_.lock_shared(); }
  void unlock_shared() RELEASE_SHARED() { m_.unlock_shared(); }

 private:
  std::shared_mutex m_;
};

// std::lock_guard for the types above.
template <class M>
class SCOPED_CAPABILITY lock_guard {
 public:
  explicit lock_guard(M& m) ACQUIRE(m) : m_(m) { m_.lock(); }
  ~lock_guard() RELEASE() { m_.unlock(); }
  lock_guard(const lock_guard&) = delete;
  lock_guard& operator=(const lock_guard&) = delete;

 private:
  M& m_;
};

// std::shared_lock for shared_mutex.
class SCOPED_CAPABILITY shared_lock {
 public:
  explicit shared_lock(shared_mutex& m) ACQUIRE_SHARED(m) : m_(m) { m_.lock_shared(); }
  ~shared_lock() RELEASE() { m_.unlock_shared(); }
  shared_lock(const shared_lock&) = delete;
  shared_lock& operator=(const shared_lock&) = delete;

 private:
  shared_mutex& m_;
};

// A held `mutex` that a std::condition_variable can wait on (wait() releases
// and re-takes it, which the analysis treats as held throughout, as it is
// whenever the waiting code runs), and that can be released early.
class SCOPED_CAPABILITY unique_lock {
 public:
  explicit unique_lock(mutex& m) ACQUIRE(m) : lock_(m.native()) {}
  ~unique_lock() RELEASE() {}
  unique_lock(const unique_lock&) = delete;
  unique_lock& operator=(const unique_lock&) = delete;

  // Releases the mutex before the end of the scope.
  void unlock() RELEASE() { lock_.unlock(); }
  // Takes it again after unlock().
  void lock() ACQUIRE() { lock_.lock(); }

  // For std::condition_variable::wait / wait_for / wait_until.
  std::unique_lock<std::mutex>& native() noexcept { return lock_; }

 private:
  std::unique_lock<std::mutex> lock_;
};

}  // namespace instadump::detail

// Autosave (setup_options::autosave): a background thread that saves when a
// timer expires or when enough commits changed state refs (a watch on each
// counts them -- states registered after setup() included), and once more at
// shutdown. Failures go to the on_error callback, never nowhere.
module;
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <thread>
#include <utility>
#include <vector>

#include "common/thread_safety.h"
module instadump;
import :session_impl;

namespace instadump::detail {
namespace {

void report_autosave_failure(const autosave_options& a, const std::exception& e) {
  if (a.on_error) {
    try {
      a.on_error(e);
      return;
    } catch (...) {
    }
  }
  std::fprintf(stderr, "instadump: autosave failed: %s\n", e.what());
}

}  // namespace

void session::start_autosave() {
  const autosave_options& a = options_.autosave;
  if (a.every.count() <= 0 && a.after_commits == 0) return;
  commits_since_save_ = 0;
  commit_threshold_ = a.after_commits;
  if (commit_threshold_ > 0) {
    for (tracked_state& t : tracked_) count_commits_of(t.entry);
  }
  lock_guard lock(autosave_mu_);
  autosave_ = a;
  autosave_stop_ = false;
  autosave_thread_ = std::thread([this] { autosave_loop(); });
}

void session::count_commits_of(state_entry* entry) {
  if (commit_threshold_ == 0) return;
  entry->set_commit_listener([this, threshold = commit_threshold_] {
    if (commits_since_save_.fetch_add(1, std::memory_order_relaxed) + 1 == threshold) {
      lock_guard lock(autosave_mu_);
      autosave_cv_.notify_one();
    }
  });
}

bool session::autosave_due(std::chrono::steady_clock::time_point next) {
  return autosave_stop_ ||
         (autosave_.after_commits > 0 &&
          commits_since_save_.load(std::memory_order_relaxed) >= autosave_.after_commits) ||
         (autosave_.every.count() > 0 && std::chrono::steady_clock::now() >= next);
}

void session::autosave_loop() {
  // After a failure, the next try waits this long (doubling up to
  // kMaxRetryDelay, back to none after a success) even when commits are due:
  // one transaction over several refs counts one commit per ref, so without
  // it a lasting failure (a full disk) would be retried, and reported, once
  // per ref of every commit, in a busy loop.
  constexpr std::chrono::milliseconds kFirstRetryDelay{50};
  constexpr std::chrono::milliseconds kMaxRetryDelay{5000};
  std::chrono::milliseconds retry_delay{0};
  unique_lock lock(autosave_mu_);
  const autosave_options a = autosave_;
  auto next = std::chrono::steady_clock::now() + a.every;
  for (;;) {
    while (!autosave_due(next)) {
      if (a.every.count() <= 0) {
        autosave_cv_.wait(lock.native());
      } else if (autosave_cv_.wait_until(lock.native(), next) == std::cv_status::timeout) {
        break;
      }
    }
    if (autosave_stop_) return;
    lock.unlock();
    try {
      lock_guard op(op_mu_);
      if (store_) save_locked(options_.durable);
      retry_delay = std::chrono::milliseconds{0};
    } catch (const std::exception& e) {
      report_autosave_failure(a, e);
      // The next try comes with the next trigger (the timer, or one more
      // commit) after the retry delay: the commits counted are still there.
      if (a.after_commits > 0) commits_since_save_.store(a.after_commits - 1, std::memory_order_relaxed);
      retry_delay = retry_delay.count() == 0 ? kFirstRetryDelay : std::min(retry_delay * 2, kMaxRetryDelay);
    }
    next = std::chrono::steady_clock::now() + a.every;
    lock.lock();
    if (retry_delay.count() > 0) {
      const auto retry_at = std::chrono::steady_clock::now() + retry_delay;
      while (!autosave_stop_ && std::chrono::steady_clock::now() < retry_at) {
        autosave_cv_.wait_until(lock.native(), retry_at);
      }
      if (autosave_stop_) return;
    }
  }
}

void session::stop_autosave(bool final_save) {
  std::thread thread;
  autosave_options a;
  {
    lock_guard lock(autosave_mu_);
    if (!autosave_thread_.joinable()) return;
    autosave_stop_ = true;
    thread = std::move(autosave_thread_);
    a = autosave_;
  }
  autosave_cv_.notify_all();
  thread.join();
  lock_guard op(op_mu_);
  if (commit_threshold_ > 0) {
    commit_threshold_ = 0;
    for (tracked_state& t : tracked_) t.entry->set_commit_listener(nullptr);
  }
  if (final_save && a.save_on_shutdown) {
    try {
      if (store_) save_locked(options_.durable);
    } catch (const std::exception& e) {
      report_autosave_failure(a, e);
    }
  }
}

}  // namespace instadump::detail

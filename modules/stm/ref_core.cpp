// Implementation of the type-independent ref machinery (ref_core.cppm).
module;
#include <mutex>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
module instadump;

namespace instadump::detail {
namespace {

// Pin indexes start at 1: entry 0 of every table stays empty.
std::atomic<std::uint32_t> g_next_pin_index{0};

}  // namespace

std::string ref_core::describe() const {
  if (std::string_view n = name(); !n.empty()) return "'" + std::string(n) + "'";
  char buf[40];
  std::snprintf(buf, sizeof buf, "<unnamed ref %p>", static_cast<const void*>(this));
  return buf;
}

// First use of a ref: one thread makes the first version (moving the
// default in, so a large default is not kept twice), others wait for it.
// Once per ref, so one lock serves all refs; recursive, and the only lock
// held while T's constructor runs, so a T whose copy reads another fresh ref
// cannot deadlock. Never destroyed: the final save at exit may be the first
// use of a ref, after function-local statics constructed later than the exit
// handler's registration are gone.
version_base* ref_core::init_head() const {
  static std::recursive_mutex* const first_use = new std::recursive_mutex;
  std::lock_guard<std::recursive_mutex> lock(*first_use);
  if (version_base* h = head_.load(std::memory_order_acquire)) return h;
  version_base* fresh = make_initial_version();
  chain_length_.store(1, std::memory_order_relaxed);
  head_.store(fresh, std::memory_order_release);
  return fresh;
}

void ref_core::wait_for_commit_at_or_before(std::uint64_t rp) const {
  for (unsigned spins = 0;; ++spins) {
    if (!may_publish_at_or_before(rp)) return;
    if (committing_thread_holds(this)) return;  // a validator reading its own commit set
    spin_pause(spins);
  }
}

version_base* ref_core::pin_newest() const {
  std::uint32_t index = pin_index();
  if (index == 0) index = assign_pin_index();
  reserve_thread_pin(index);
  std::uint64_t rp = announce_read_point();
  version_base* v = hold_newest(rp);
  withdraw_read_point();
  push_thread_pin(index, v);
  cache_thread_pin(this, v);
  return v;
}

std::uint32_t ref_core::assign_pin_index() const noexcept {
  const std::uint32_t fresh = g_next_pin_index.fetch_add(1, std::memory_order_relaxed) + 1;
  if (fresh > max_pin_index) {
    // Each thread that reads such a ref outside a transaction would need a
    // table of 4 GiB; sharing an index would drop another ref's pins early.
    std::fprintf(stderr, "instadump: more than %u refs were read outside a transaction; aborting\n",
                 static_cast<unsigned>(max_pin_index));
    std::abort();
  }
  std::uint32_t expected = 0;
  if (pin_slot_.compare_exchange_strong(expected, fresh << pin_slot_shift, std::memory_order_relaxed)) return fresh;
  return expected >> pin_slot_shift;
}

void ref_core::add_waiter() noexcept {
  for (unsigned spins = 0; !try_lock(); ++spins) {
    spin_pause(spins);
  }
  waiters_.fetch_add(1, std::memory_order_relaxed);
  unlock();
}

void ref_core::make_claim(std::uint64_t ticket) noexcept {
  std::uint64_t cur = claim_.load(std::memory_order_acquire);
  while ((cur == 0 || cur > ticket) &&
         !claim_.compare_exchange_weak(cur, ticket, std::memory_order_acq_rel)) {
  }
}

void ref_core::drop_claim(std::uint64_t ticket) noexcept {
  std::uint64_t expected = ticket;
  claim_.compare_exchange_strong(expected, 0, std::memory_order_acq_rel);
}

void ref_core::destroy_chain() noexcept {
  version_base* v = head_.exchange(nullptr, std::memory_order_acq_rel);
  while (v) {
    version_base* next = v->older();
    v->release();
    v = next;
  }
}

}  // namespace instadump::detail

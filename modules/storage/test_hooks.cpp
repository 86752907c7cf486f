// Fault injection for the store's own tests (see test_hooks.h).
#include "storage/test_hooks.h"

#include <atomic>
#include <utility>

namespace instadump::storage {
namespace {

std::atomic<int> g_fail_next_sync{0};
std::atomic<bool> g_hold_applier{false};
std::function<void()> g_before_journal_read;  // (set by tests while no store is read)

}  // namespace

namespace testing {
void fail_next_sync(int errno_code) { g_fail_next_sync.store(errno_code); }
void hold_journal_applier(bool hold) { g_hold_applier.store(hold); }
void before_journal_read(std::function<void()> f) { g_before_journal_read = std::move(f); }
}  // namespace testing

namespace detail {
int take_injected_sync_failure() noexcept { return g_fail_next_sync.exchange(0); }
bool journal_applier_held() noexcept { return g_hold_applier.load(); }
void run_before_journal_read() {
  if (g_before_journal_read) g_before_journal_read();
}
}  // namespace detail

}  // namespace instadump::storage

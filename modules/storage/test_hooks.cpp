// Fault injection for the store's own tests (see test_hooks.h).
#include "storage/test_hooks.h"

#include <atomic>

namespace instadump::storage {
namespace {

std::atomic<int> g_fail_next_sync{0};
std::atomic<bool> g_hold_applier{false};

}  // namespace

namespace testing {
void fail_next_sync(int errno_code) { g_fail_next_sync.store(errno_code); }
void hold_journal_applier(bool hold) { g_hold_applier.store(hold); }
}  // namespace testing

namespace detail {
int take_injected_sync_failure() noexcept { return g_fail_next_sync.exchange(0); }
bool journal_applier_held() noexcept { return g_hold_applier.load(); }
}  // namespace detail

}  // namespace instadump::storage

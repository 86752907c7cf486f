// Fault injection for the snapshot store's own tests. Not for production use.
//
// Failures of fsync cannot be provoked reliably from a test, so the store
// consults this hook right before it flushes a durable snapshot.
#pragma once

namespace instadump::storage::testing {

// Makes the next durable flush (mdb_env_sync, or the journal's fdatasync)
// fail with `errno_code` instead of running; 0 cancels. Thread-safe.
void fail_next_sync(int errno_code);

}  // namespace instadump::storage::testing

namespace instadump::storage::detail {

// The errno value fail_next_sync() asked for (and cancels it), or 0. Called
// by every durable flush: LMDB's and the journal's.
int take_injected_sync_failure() noexcept;

}  // namespace instadump::storage::detail

// Fault injection for the snapshot store's own tests. Not for production use.
//
// Failures of fsync cannot be provoked reliably from a test, so the store
// consults this hook right before it flushes a durable snapshot. And a
// journaled snapshot reaches data.mdb in the background within moments, so
// tests that need it to stay in the journal (to see what a crash leaves)
// hold the background writer.
#pragma once

namespace instadump::storage::testing {

// Makes the next durable flush (mdb_env_sync, or the journal's fdatasync)
// fail with `errno_code` instead of running; 0 cancels. Thread-safe.
void fail_next_sync(int errno_code);

// While held, the background writer of every store in this process leaves
// journaled snapshots in the journal (reads, full journals, direct writes
// and closing still write them into data.mdb). Thread-safe.
void hold_journal_applier(bool hold);

}  // namespace instadump::storage::testing

namespace instadump::storage::detail {

// The errno value fail_next_sync() asked for (and cancels it), or 0. Called
// by every durable flush: LMDB's and the journal's.
int take_injected_sync_failure() noexcept;

// Whether hold_journal_applier(true) is in force.
bool journal_applier_held() noexcept;

}  // namespace instadump::storage::detail

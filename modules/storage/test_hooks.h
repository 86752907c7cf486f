// Fault injection for the snapshot store's own tests. Not for production use.
//
// Failures of fsync cannot be provoked reliably from a test, so the store
// consults this hook right before it flushes a durable snapshot. And a
// journaled snapshot reaches data.mdb in the background within moments, so
// tests that need it to stay in the journal (to see what a crash leaves)
// hold the background writer; and a read-only read that races with the
// writer starting its journal over is provoked by running code at the
// right moment.
#pragma once

#include <functional>

namespace instadump::storage::testing {

// Makes the next durable flush (mdb_env_sync, or the journal's fdatasync)
// fail with `errno_code` instead of running; 0 cancels. Thread-safe.
void fail_next_sync(int errno_code);

// While held, the background writer of every store in this process leaves
// journaled snapshots in the journal (reads, full journals, direct writes
// and closing still write them into data.mdb). Thread-safe.
void hold_journal_applier(bool hold);

// Runs `f` in every read of a read-only store of this process between
// beginning its LMDB read transaction and reading journal.log (where a
// writer starting its journal over makes the read go again); an empty
// function removes it. Not thread-safe: set it while no store is read.
void before_journal_read(std::function<void()> f);

}  // namespace instadump::storage::testing

namespace instadump::storage::detail {

// The errno value fail_next_sync() asked for (and cancels it), or 0. Called
// by every durable flush: LMDB's and the journal's.
int take_injected_sync_failure() noexcept;

// Whether hold_journal_applier(true) is in force.
bool journal_applier_held() noexcept;

// Runs the function before_journal_read() set, if any.
void run_before_journal_read();

}  // namespace instadump::storage::detail

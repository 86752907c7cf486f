// The replication of one open store to PostgreSQL, as the session drives
// it: set up with the store (taking the writer's lease, restoring an empty
// store from the copy), told before and after each local save, asked how
// far it has got.
//
// sync: after_save() ships on the saving thread and returns once
// PostgreSQL committed. async: after_save() only wakes the sender thread,
// which ships in order, reconnects with backoff (options::min_backoff ..
// max_backoff) and reports each failure to options::on_error.
//
// Threads: before_save/after_save are called by one thread at a time (the
// session serializes saves); status(), wait_shipped() from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/thread_safety.h"
#include "replication/key_table.h"
#include "replication/replication_options.h"
#include "replication/saved_snapshot.h"

namespace instadump::storage {
class snapshot_store;
}

namespace instadump::replication {

class replicated_copy;
class snapshot_shipper;

class replicator {
 public:
  // Connects to options.url and takes the writer's lease on options.store
  // (with options.standby, waits until it is free -- through lost
  // connections, each reported to options.on_error and retried with backoff
  // -- else throws replication_error when another instance holds it). When `local` holds
  // no snapshot and the copy has one, writes the copy's newest (or
  // options.restore_snapshot) into it (restore_from_copy). In async mode, starts the sender, which first ships
  // the local snapshots the copy lacks. Throws invalid_option when url or
  // store is empty, or with standby or restore_snapshot when `local` holds
  // snapshots already;
  // replication_error when PostgreSQL cannot be reached or the copy has
  // diverged from `local` (snapshot_shipper::attach).
  replicator(const options& o, storage::snapshot_store& local);
  // Stops the sender; it first gets up to options::shutdown_drain to ship
  // what is pending. What it did not ship stays in the local store, and the
  // next writer session on it ships it.
  ~replicator();
  replicator(const replicator&) = delete;
  replicator& operator=(const replicator&) = delete;

  // Throws lease_lost once the lease is known lost (before the local write:
  // a fenced writer stops saving at once).
  void before_save() EXCLUDES(mu_);
  // Local snapshot `saved.info.id` was written. sync: ships it (and any
  // before it the copy lacks), from `saved` where it can; throws
  // replication_error (the snapshot stays saved locally, the next save
  // ships it) or lease_lost. async: copies the bytes in `saved` for the
  // sender (the newest kMaxQueued saves, up to kMaxQueuedBytes, wait; the
  // sender reads the store for older ones) and returns at once.
  //
  // With `make_durable` (sync mode, a durable save): the local snapshot was
  // written without a flush, and make_durable() flushes it. It runs while
  // PostgreSQL runs the snapshot's write, which commits only once it has
  // returned, so the copy never has a snapshot the local store could still
  // lose; it runs exactly once, shipped or not, and what it throws
  // (save_failed) propagates ahead of any replication failure.
  void after_save(saved_snapshot saved, const std::function<void()>& make_durable = {}) EXCLUDES(mu_);
  // Whether after_save() ships before it returns (sync mode).
  bool ships_on_save() const { return options_.mode == send_mode::sync; }

  // What the async sender may hold of saves not shipped yet (their bytes
  // and what describes them, saved_snapshot::held_bytes). Enough for the
  // saves made while the sender writes one batch to PostgreSQL even when
  // saves follow each other as fast as they go: once a save is dropped,
  // the sender must read the store (a durable commit of its journal per
  // read, against the saves) until it is caught up, and a store pruning
  // faster than the sender reads it leaves it nothing to read. (16 saves,
  // as it was, were fewer than a 2-core machine saving back to back makes
  // during one PostgreSQL commit: the sender then stayed on the store
  // until the saves paused.)
  static constexpr std::size_t kMaxQueued = 4096;
  static constexpr std::size_t kMaxQueuedBytes = 64u << 20;

  // How far replication has got. Reads the local store (for what is
  // behind) only when saves are waiting to be shipped.
  status current() const EXCLUDES(mu_);
  // Waits up to `timeout` until every local snapshot saved so far is
  // replicated; returns whether it is.
  bool wait_shipped(std::chrono::milliseconds timeout) EXCLUDES(mu_);
  // Stops the sender after at most `drain` spent shipping what is pending.
  void stop(std::chrono::milliseconds drain) EXCLUDES(mu_);

 private:
  // Connects again when the connection is gone, resuming the lease and
  // learning what the copy holds. Owner thread only.
  void ensure_connected();
  // Ships up to `upto` (from `saved` where it can); returns the failure
  // (null: none). Owner thread only.
  std::exception_ptr ship(std::uint64_t upto, std::span<const saved_snapshot> saved,
                          const std::function<void()>& before_commit = {}) EXCLUDES(mu_);
  void sender_loop() EXCLUDES(mu_);
  // Hands `failure` to options.on_error, or prints it to stderr as `who`'s.
  void report(const std::exception_ptr& failure, const char* who) const;
  // Connects and takes the lease, or throws replication_error when another
  // instance holds it; then become_writer().
  std::unique_ptr<replicated_copy> take_lease_now();
  // Connects and waits for the lease, then become_writer(); a connection
  // lost meanwhile is reported and retried (see the definition).
  std::unique_ptr<replicated_copy> take_lease_as_standby();
  // With the lease held on `copy`: restores an empty local store from it
  // and attaches the shipper.
  void become_writer(replicated_copy& copy);

  const options options_;
  storage::snapshot_store& local_;
  // Used by the thread that ships (the saving thread in sync mode, the
  // sender in async mode) and by no other: not guarded.
  std::unique_ptr<replicated_copy> copy_;
  std::unique_ptr<snapshot_shipper> shipper_;
  std::uint64_t epoch_ = 0;  // set once in the constructor
  // async: the keys of the saves handed over (saved_snapshot::own). Written
  // by the saving thread, read through views by the sender.
  key_table keys_;

  // What other threads see of it.
  mutable detail::mutex mu_;
  std::condition_variable cv_;  // the sender's wake-up, and wait_shipped()'s
  std::uint64_t target_ GUARDED_BY(mu_) = 0;  // newest local snapshot to ship
  // async: what the saves handed over, oldest first, and its bytes.
  std::deque<saved_snapshot> queued_ GUARDED_BY(mu_);
  std::size_t queued_bytes_ GUARDED_BY(mu_) = 0;
  bool stop_ GUARDED_BY(mu_) = false;
  bool connected_ GUARDED_BY(mu_) = false;
  bool lost_ GUARDED_BY(mu_) = false;
  std::string lost_message_ GUARDED_BY(mu_);
  std::string last_error_ GUARDED_BY(mu_);
  std::uint64_t shipped_local_ GUARDED_BY(mu_) = 0;
  std::uint64_t shipped_seq_ GUARDED_BY(mu_) = 0;
  std::int64_t shipped_created_ GUARDED_BY(mu_) = 0;
  std::thread sender_;  // started in the constructor, joined by stop()
};

}  // namespace instadump::replication

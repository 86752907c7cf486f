// A reader's follower (replication::options, "Readers"): keeps the reader's
// cache -- a local store -- at the replicated copy's newest snapshot, so
// that the session loads whole snapshots from it as a local reader would.
//
// catch_up() brings the cache forward: the copy's newest restored whole
// into an empty cache (restore_from_copy), then each later snapshot applied
// as what it changed (apply_replicated_snapshot), in order. The follower
// thread (options::follow) calls it whenever the writer's NOTIFY arrives on
// a LISTEN connection of its own, and every poll_interval besides, and
// reports each newer snapshot to options::on_newer_snapshot; after a failure
// it drops its connections and tries again after a backoff, reporting the
// failure to options::on_error. The reader's connections are read-only: it
// never writes PostgreSQL and takes no lease.
//
// Threads: catch_up() from the session (reload_all) and from the follower
// thread, one at a time (copy_mu_); current() and loaded() from any.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "common/thread_safety.h"
#include "replication/replication_options.h"

namespace instadump::storage {
class snapshot_store;
}

namespace instadump::replication {

class replicated_copy;

class replica_follower {
 public:
  // Connects (read-only) to o.url, writes the copy's newest snapshot into
  // `cache` (which must hold none; nothing when the copy has none yet), and
  // with o.follow starts the follower thread. Throws open_failed naming the
  // url and the store when PostgreSQL cannot be reached or holds no copy;
  // corrupt_data or save_failed as restore_from_copy does; invalid_option
  // when o.store is empty or o.standby is set.
  replica_follower(const options& o, storage::snapshot_store& cache);
  // Stops the follower thread.
  ~replica_follower();
  replica_follower(const replica_follower&) = delete;
  replica_follower& operator=(const replica_follower&) = delete;

  // Brings the cache up to the copy's newest snapshot. Throws
  // replication_error when PostgreSQL fails (the cache keeps the snapshots
  // it has, whole), and what apply_replicated_snapshot throws.
  void catch_up() EXCLUDES(copy_mu_, mu_);
  // The session loaded the cache's snapshot `local_id` (status::loaded_seq).
  void loaded(std::uint64_t local_id) EXCLUDES(mu_);
  status current() const EXCLUDES(mu_);

 private:
  void follow_loop() EXCLUDES(copy_mu_, mu_);
  // Records a failure in the status and reports it to options::on_error.
  void fail(const std::exception& e) EXCLUDES(mu_);
  // Waits `d` or until stopped; returns whether stopped.
  bool sleep_or_stop(std::chrono::milliseconds d) EXCLUDES(mu_);

  const options options_;
  storage::snapshot_store& cache_;

  // The connection that reads the copy, and where the cache is relative to it.
  detail::mutex copy_mu_;
  std::unique_ptr<replicated_copy> copy_ GUARDED_BY(copy_mu_);
  std::uint64_t cache_seq_ GUARDED_BY(copy_mu_) = 0;    // the copy's snapshot the cache's newest is
  std::uint64_t cache_local_ GUARDED_BY(copy_mu_) = 0;  // the cache's newest snapshot id (0: none)

  // What current() reports, and the thread's stop flag.
  mutable detail::mutex mu_ ACQUIRED_AFTER(copy_mu_);
  std::condition_variable cv_;  // wakes the thread's backoff sleep on stop
  bool stop_ GUARDED_BY(mu_) = false;
  status status_ GUARDED_BY(mu_);
  std::int64_t newest_created_ GUARDED_BY(mu_) = 0;  // when the writer saved the cache's newest
  // Cache snapshot id -> the copy's seq, for loaded(): the newest few.
  std::map<std::uint64_t, std::uint64_t> seq_of_ GUARDED_BY(mu_);
  std::uint64_t reported_seq_ = 0;  // the follower thread's: last seq given to on_newer_snapshot
  std::thread thread_;
};

}  // namespace instadump::replication

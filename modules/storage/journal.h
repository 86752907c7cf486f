// The journal of a writable store: a snapshot of small values built on the
// newest one is planned as the writer would write it (journal_planner.h),
// appended as one frame to the preallocated <dir>/journal.log with one flush
// (journal_file.h, journal_codec.h), and the save returns. A background
// thread (the applier) writes journaled snapshots into data.mdb -- those
// saved within journal_delay of each other share one durable commit, each
// written by the writer straight into it (journal_replay.h) -- and then the
// journal starts over at offset 0. Reads, direct writes and closing first
// write what is journaled; a writable open writes what a crashed writer left
// in it (journal_recovery.h).
//
// Locks, in the order they are taken (the compiler checks it): save_mu_
// (serializes saves), apply_mu_ (serializes writing into data.mdb), the
// environment's lock (store_environment::mu), then mu_ (the file and the
// snapshots in it).
//
// Internal to instadump_storage.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "common/thread_safety.h"
#include "storage/journal_codec.h"
#include "storage/journal_file.h"
#include "storage/journal_planner.h"
#include "storage/lmdb_writer.h"
#include "storage/snapshot_types.h"

namespace instadump::storage {

class journal {
 public:
  // Opens <dir>/journal.log for `writer`'s store. Throws open_failed.
  // REQUIRES: `writer` outlives the journal.
  explicit journal(lmdb_writer& writer);
  // Stops the applier and writes journaled snapshots into data.mdb; those
  // that do not make it stay in the journal for the next open.
  ~journal();
  journal(const journal&) = delete;
  journal& operator=(const journal&) = delete;

  // At open: writes the snapshots a crashed writer left in the journal into
  // data.mdb and starts the applier. Throws open_failed when they cannot be
  // written or the journal does not belong to data.mdb (nothing is changed
  // then), corrupt_data when data.mdb's meta record is damaged.
  void recover() EXCLUDES(save_mu_, apply_mu_, mu_);

  // The save of write_snapshot: journaled when it can be (see
  // journal_planner::plan), else written directly, after the journaled
  // snapshots. Throws save_failed as write_snapshot documents.
  snapshot_info save(std::uint64_t base_id, const snapshot_delta& delta, bool durable,
                     std::span<const schema_record> schemas) EXCLUDES(save_mu_, apply_mu_, mu_);

  // Puts every snapshot saved without `durable` on stable storage: the
  // journal's frames, and data.mdb's pages when a save went there directly.
  // Throws save_failed, and poisons the store, when a flush fails.
  void make_durable() EXCLUDES(save_mu_, apply_mu_, mu_);

  // The id the next save's new chunks start at: past every chunk in
  // data.mdb and in the journal. Throws lmdb_failure and corrupt_data.
  std::uint64_t next_chunk_id() EXCLUDES(save_mu_, apply_mu_, mu_);

  // Writes the journaled snapshots not yet in data.mdb into it: one LMDB
  // write transaction that the writer writes each snapshot into, one durable
  // commit; then the journal starts over if nothing else was added
  // meanwhile. Throws save_failed (the snapshots stay journaled).
  void apply() EXCLUDES(apply_mu_, mu_);
  // apply() before a read, when there is anything to apply: throws
  // load_failed instead.
  void catch_up() EXCLUDES(apply_mu_, mu_);

 private:
  // A journaled snapshot not yet in data.mdb: its entry, and the memory the
  // entry's blob points into (the message it was built in, or the frame it
  // was read from).
  struct pending_snapshot {
    journal_entry entry;
    std::unique_ptr<journal_message> message;
    std::vector<std::uint64_t> payload;
    int half = 0;  // of the file, where its frame is
  };

  // Writes `delta` as a journaled snapshot, or returns nullopt when it must
  // be written directly.
  std::optional<snapshot_info> write_journaled(std::uint64_t base_id, const snapshot_delta& delta, bool durable,
                                               std::span<const schema_record> schemas) REQUIRES(save_mu_);
  // The plan of `delta`, taking the plan from the writer's state first when
  // there is none; nullopt when it cannot be journaled.
  std::optional<journal_plan> plan(std::uint64_t base_id, const snapshot_delta& delta,
                                   std::span<const schema_record> schemas) REQUIRES(save_mu_);
  // Whether a snapshot waiting to go into data.mdb has its frame in `half`.
  bool has_pending_in(int half) const REQUIRES(mu_);
  // Whether the applier has something to write.
  bool ready() const REQUIRES(mu_);
  void applier_loop() EXCLUDES(mu_);
  void stop_applier() noexcept EXCLUDES(mu_);

  lmdb_writer& writer_;
  const std::chrono::milliseconds delay_;  // store_options::journal_delay

  instadump::detail::mutex save_mu_ ACQUIRED_BEFORE(apply_mu_, writer_.env().mu);
  instadump::detail::mutex apply_mu_ ACQUIRED_BEFORE(writer_.env().mu);
  instadump::detail::mutex mu_ ACQUIRED_AFTER(save_mu_, apply_mu_, writer_.env().mu);

  journal_file file_ GUARDED_BY(mu_);  // written under mu_, too
  // The plan of the next journaled snapshot: what the newest snapshot (in
  // data.mdb or in the journal) is, and what ids come next.
  journal_planner plan_ GUARDED_BY(save_mu_);
  std::deque<pending_snapshot> pending_ GUARDED_BY(mu_);                // oldest first
  std::chrono::steady_clock::time_point oldest_pending_ GUARDED_BY(mu_);  // when the oldest of them was journaled
  std::chrono::steady_clock::time_point newest_pending_ GUARDED_BY(mu_);  // when the newest was
  std::condition_variable wake_;           // the applier waits on it (with mu_)
  bool stop_ GUARDED_BY(mu_) = false;    // the applier should end
  bool failed_ GUARDED_BY(mu_) = false;  // the last write into data.mdb failed: retry after the next save
  // The applier waits for a snapshot to write, not for a pause in saving:
  // the next save wakes it. (While it waits for a pause, a save need not:
  // it looks again when its wait ends.)
  bool applier_idle_ GUARDED_BY(mu_) = false;
  std::thread applier_;  // started by recover(), joined by the destructor
};

}  // namespace instadump::storage

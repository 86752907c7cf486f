// The open LMDB environment of one store directory, which the store's reads,
// its writer (lmdb_writer.h) and its journal (journal.h) share: the
// directory and its single-writer lock, the environment and its named
// databases, the lock that keeps transactions apart from map resizes, and
// whether a failed flush has "poisoned" the store.
//
// Internal to instadump_storage.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "common/errors.h"
#include "common/thread_safety.h"
#include "storage/lmdb_env.h"
#include "storage/record_io.h"
#include "storage/snapshot_types.h"

namespace instadump::storage {

class directory_lock;

class store_environment {
 public:
  // Makes sure `dir` is a usable directory (creating it for writable opens),
  // records that this process has it open, takes the single-writer lock
  // (writable opens) and opens the LMDB environment; then marks every
  // descriptor into `dir` close-on-exec. Nothing is read yet: initialize()
  // does that. Throws locked_by_other_process and open_failed (see
  // snapshot_store::open).
  static std::unique_ptr<store_environment> open(const std::filesystem::path& dir, const store_options& options);

  // Closes the environment, forgets that this process has the directory
  // open, and releases the writer lock. In a forked child it leaves the
  // environment alone (mdb_env_close would release the parent's reader
  // slots) and the table of open directories, too.
  ~store_environment();
  store_environment(const store_environment&) = delete;
  store_environment& operator=(const store_environment&) = delete;

  // Releases reader slots of crashed processes, opens the named databases
  // and checks the meta record (or, for a fresh store, writes it). Throws
  // open_failed, corrupt_data (a damaged meta record) and lmdb_failure.
  void initialize() EXCLUDES(mu);

  const std::filesystem::path& dir() const noexcept { return dir_; }
  const store_options& options() const noexcept { return options_; }
  // Reader slots of dead processes that initialize() released.
  int stale_readers_cleared() const noexcept { return stale_readers_cleared_; }

  // Whether this is a fork() child of the process that opened the store.
  bool forked() const noexcept;
  // Throws storage_error in a fork() child (LMDB environments cannot be
  // shared across fork()).
  void check_process() const;

  // Shared by read transactions, exclusive for write transactions and map
  // resizes: mdb_env_set_mapsize is only legal with no transaction open in
  // this process. The store's locks are taken in this order: the journal's
  // save and apply locks, this one, then the journal's own (journal.h).
  mutable instadump::detail::shared_mutex mu;

  // The environment, for beginning transactions.
  MDB_env* handle() const REQUIRES_SHARED(mu) { return env_->get(); }
  // The named databases.
  const store_dbis& dbis() const REQUIRES_SHARED(mu) { return dbis_; }

  // Runs f(txn, dbis) in a read transaction and returns what it returns.
  // When another process grew the map, maps the grown size and runs f again.
  // Throws corrupt_data when LMDB finds the file damaged and load_failed
  // when reading fails otherwise; f's own exceptions propagate.
  template <typename F>
  auto read(F&& f) const EXCLUDES(mu);

  // Grows the map by at least `extra` bytes (see lmdb::environment::grow_map).
  // Throws lmdb_failure.
  void grow_map(std::size_t extra) REQUIRES(mu) { env_->grow_map(extra); }
  std::size_t map_size() const REQUIRES(mu) { return env_->map_size(); }

  // Flushes data.mdb (mdb_env_sync) for `what` (in the message); poisons the
  // store and throws save_failed when that fails.
  void sync_or_poison(const std::string& what);
  // A write transaction was committed without a flush (durable == false).
  void mark_unsynced() noexcept { unsynced_ = true; }
  // sync_or_poison(what) if a commit since the last flush was not flushed.
  void sync_if_unsynced(const std::string& what) {
    if (unsynced_.load()) sync_or_poison(what);
  }
  // After a write that freed `freed_bytes`: commits once more, so that the
  // next write may reuse those pages (see store_environment.cpp).
  void settle_freed_pages(std::uint64_t freed_bytes) noexcept REQUIRES(mu);

  // Whether a failed flush has poisoned the store: nothing written from
  // then on can be trusted to reach the disk, so it refuses further writes.
  bool poisoned() const noexcept { return poisoned_.load(); }
  void poison() noexcept { poisoned_ = true; }
  // Throws save_failed, saying what to do, when the store is poisoned.
  void refuse_writes_if_poisoned() const;

  // Forgets the environment without closing it (in a forked child).
  void abandon() noexcept;

 private:
  store_environment(std::filesystem::path dir, const store_options& options);

  // Opens the "keys" and "chunks" databases in a read-only store whose
  // writer created them after this store was opened (converting a format 1
  // store; opening an older store writable with this build).
  void open_late_databases() const EXCLUDES(mu);

  const std::filesystem::path dir_;
  const store_options options_;
  const pid_t pid_;
  std::unique_ptr<directory_lock> lock_;  // writable stores
  std::unique_ptr<lmdb::environment> env_;
  bool registered_ = false;  // in the process's table of open directories
  std::pair<dev_t, ino_t> dir_identity_{};
  int stale_readers_cleared_ = 0;
  std::atomic<bool> poisoned_{false};
  std::atomic<bool> unsynced_{false};  // see mark_unsynced()
  // Only `keys` and `chunks` change after initialize(), in open_late_databases().
  mutable store_dbis dbis_ GUARDED_BY(mu);
  // Whether dbis_.keys and dbis_.chunks are open: read without the lock by every read.
  mutable std::atomic<bool> late_databases_open_{false};
};

template <typename F>
auto store_environment::read(F&& f) const {
  // A writer in another process may have converted a format 1 store since
  // this read-only store was opened, or added chunks to an older one: its
  // key table and chunks are needed now.
  if (!late_databases_open_.load(std::memory_order_acquire)) open_late_databases();
  for (int attempt = 0;; ++attempt) {
    {
      instadump::detail::shared_lock lock(mu);
      try {
        lmdb::transaction txn(handle(), MDB_RDONLY);
        return f(txn.get(), dbis());
      } catch (const lmdb::lmdb_failure& e) {
        if (e.code() == MDB_CORRUPTED || e.code() == MDB_PAGE_NOTFOUND) {
          throw corrupt_data("instadump: the store in " + dir_.string() + " is damaged (" + e.what() +
                             "); restore it from a backup");
        }
        if (e.code() != MDB_MAP_RESIZED || attempt >= 8) {
          throw load_failed("instadump: reading the store in " + dir_.string() + " failed: " + e.what());
        }
      }
    }
    instadump::detail::lock_guard lock(mu);
    try {
      env_->adopt_map_size();
    } catch (const lmdb::lmdb_failure& e) {
      throw load_failed("instadump: cannot map the grown store in " + dir_.string() + ": " + e.what());
    }
  }
}

}  // namespace instadump::storage

// Opening a store directory's LMDB environment, checking or creating its
// meta record, flushing and settling freed pages (see store_environment.h).
#include "storage/store_environment.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "storage/error_advice.h"
#include "storage/data_file_check.h"
#include "storage/file_lock.h"
#include "storage/io_errors.h"
#include "storage/manifest_codec.h"
#include "storage/store_directory.h"
#include "storage/test_hooks.h"

namespace instadump::storage {
namespace {

using lmdb::check;
using lmdb::lmdb_failure;
using lmdb::text_key;

// Opens a named database that must exist; a missing one means a damaged store.
void open_existing(MDB_txn* txn, const char* name, MDB_dbi* dbi, const std::filesystem::path& dir) {
  const int rc = mdb_dbi_open(txn, name, 0, dbi);
  if (rc == MDB_NOTFOUND) {
    throw open_failed("instadump: the store in " + dir.string() + " has no \"" + name +
                      "\" database; it is damaged: restore it from a backup");
  }
  check(rc, "mdb_dbi_open");
}

}  // namespace

store_environment::store_environment(std::filesystem::path dir, const store_options& options)
    : dir_(std::move(dir)), options_(options), pid_(::getpid()) {}

store_environment::~store_environment() {
  if (forked()) {
    abandon();
    return;
  }
  env_.reset();
  if (registered_) unregister_open_directory(dir_identity_);
}

bool store_environment::forked() const noexcept { return ::getpid() != pid_; }

void store_environment::abandon() noexcept {
  if (env_) env_->abandon();
}

std::unique_ptr<store_environment> store_environment::open(const std::filesystem::path& dir,
                                                           const store_options& options) {
  prepare_directory(dir, options.read_only);
  std::unique_ptr<store_environment> store(new store_environment(dir, options));
  const auto id = identity_of(dir);
  register_open_directory(dir, id);
  store->registered_ = true;
  store->dir_identity_ = id;
  if (!options.read_only) store->lock_ = std::make_unique<directory_lock>(dir);
  // Before LMDB maps data.mdb: a truncated file would crash it (SIGBUS).
  const bool header_read = check_data_file(dir).has_value();
  try {
    // MDB_NOMETASYNC: each commit flushes the data pages but not the meta page,
    // so a machine crash can lose only the newest non-durable snapshot and never
    // damages the database (MDB_NOSYNC could). Durable writes flush the meta
    // page with mdb_env_sync.
    const unsigned flags = options.read_only ? MDB_RDONLY : MDB_NOMETASYNC;
    store->env_ = std::make_unique<lmdb::environment>(dir, flags, options.initial_map_size, 8);
  } catch (const lmdb_failure& e) {
    const std::string where = "instadump: cannot open the store in " + dir.string() + ": ";
    if (e.code() == MDB_INVALID && header_read) {
      // check_data_file() has just read an intact header: LMDB's own read of
      // it came back short.
      throw open_failed(where + "LMDB could not read the header of data.mdb (" + e.what() +
                        ") that was just read intact: an I/O failure, not a damaged store; check the disk and "
                        "try again");
    }
    if (e.code() == MDB_INVALID) {
      throw open_failed(where + "data.mdb is not an LMDB database; use an empty directory for a new store");
    }
    if (e.code() == MDB_VERSION_MISMATCH) {
      throw open_failed(where + "data.mdb was written by an incompatible LMDB version (" + e.what() + ")");
    }
    if (e.code() == ENOENT && options.read_only) {
      throw open_failed(where + "it holds no store (no data.mdb); open it writable once to create it");
    }
    if (e.code() > 0) {  // an errno value: the operating system failed, not the store
      throw open_failed(where + describe_errno("mdb_env_open", e.code()) +
                        "; an I/O or system failure, not a damaged store: check the disk and try again");
    }
    throw open_failed(where + e.what());
  }
  set_close_on_exec(dir);
  return store;
}

// Opens the named databases and checks (or, for a fresh store, writes) the
// meta record.
void store_environment::initialize() {
  stale_readers_cleared_ = env_->clear_stale_readers();
  const bool writable = !options_.read_only;
  // (Nothing else uses the store yet: the lock only satisfies the analysis.)
  instadump::detail::lock_guard lock(mu);
  lmdb::transaction txn(handle(), writable ? 0 : MDB_RDONLY);
  const int rc = mdb_dbi_open(txn.get(), "meta", 0, &dbis_.meta);
  if (rc == MDB_NOTFOUND) {
    MDB_dbi main_db;
    check(mdb_dbi_open(txn.get(), nullptr, 0, &main_db), "mdb_dbi_open (main)");
    MDB_stat st;
    check(mdb_stat(txn.get(), main_db, &st), "mdb_stat (main)");
    if (st.ms_entries != 0) {
      throw open_failed("instadump: " + dir_.string() +
                        " holds an LMDB environment that is not an Instadump store (it has no \"meta\" "
                        "database); use an empty directory for a new store");
    }
    if (!writable) {
      throw open_failed("instadump: there is no snapshot store in " + dir_.string() +
                        " (the LMDB environment is empty); open it writable once to create it");
    }
    check(mdb_dbi_open(txn.get(), "meta", MDB_CREATE, &dbis_.meta), "mdb_dbi_open (meta)");
    check(mdb_dbi_open(txn.get(), "snapshots", MDB_CREATE, &dbis_.snapshots), "mdb_dbi_open (snapshots)");
    check(mdb_dbi_open(txn.get(), "blobs", MDB_CREATE, &dbis_.blobs), "mdb_dbi_open (blobs)");
    check(mdb_dbi_open(txn.get(), "schemas", MDB_CREATE, &dbis_.schemas), "mdb_dbi_open (schemas)");
    check(mdb_dbi_open(txn.get(), "keys", MDB_CREATE, &dbis_.keys), "mdb_dbi_open (keys)");
    check(mdb_dbi_open(txn.get(), "chunks", MDB_CREATE, &dbis_.chunks), "mdb_dbi_open (chunks)");
    // A new store needs format 4 only once it holds chunks (see snapshot_types.h).
    auto meta = encode_store_meta(store_meta{format_version_without_chunks, now_unix_nanos()});
    MDB_val k = text_key(kMetaStoreKey);
    MDB_val v{meta.asBytes().size(), meta.asBytes().begin()};
    check(mdb_put(txn.get(), dbis_.meta, &k, &v, 0), "mdb_put (meta)");
    write_counter(txn.get(), dbis_.meta, kMetaNextBlobKey, 1);
    write_counter(txn.get(), dbis_.meta, kMetaNextKeyIdKey, 1);
    txn.commit();
    late_databases_open_ = true;
    // The new store's files exist now: make sure nobody else can read them
    // whatever the umask was.
    ::chmod((dir_ / "data.mdb").c_str(), 0600);
    ::chmod((dir_ / "lock.mdb").c_str(), 0600);
    return;
  }
  check(rc, "mdb_dbi_open (meta)");
  MDB_val k = text_key(kMetaStoreKey), v;
  const int get_rc = mdb_get(txn.get(), dbis_.meta, &k, &v);
  if (get_rc == MDB_NOTFOUND) {
    throw open_failed("instadump: " + dir_.string() +
                      " holds an LMDB environment with a \"meta\" database but no Instadump meta record; "
                      "it is not an Instadump store");
  }
  check(get_rc, "mdb_get (meta)");
  const store_meta meta = decode_store_meta(lmdb::bytes_of(v), "the meta record of " + dir_.string());
  if (meta.format_version > format_version) {
    throw open_failed("instadump: the store in " + dir_.string() + " has format version " +
                      std::to_string(meta.format_version) + ", but this build of Instadump only knows versions up to " +
                      std::to_string(format_version) + "; upgrade Instadump to open it");
  }
  if (meta.format_version == 0) {
    throw open_failed("instadump: the store in " + dir_.string() + " has format version 0; it is damaged");
  }
  open_existing(txn.get(), "snapshots", &dbis_.snapshots, dir_);
  open_existing(txn.get(), "blobs", &dbis_.blobs, dir_);
  open_existing(txn.get(), "schemas", &dbis_.schemas, dir_);
  // Format 1 has no key table. A writable open adds an empty one (older
  // builds ignore databases they do not know); the first write fills it.
  const int keys_rc = mdb_dbi_open(txn.get(), "keys", writable ? MDB_CREATE : 0, &dbis_.keys);
  if (keys_rc == MDB_NOTFOUND && meta.format_version == 1) {
    dbis_.keys = 0;
  } else if (keys_rc == MDB_NOTFOUND) {
    throw open_failed("instadump: the store in " + dir_.string() +
                      " has no \"keys\" database; it is damaged: restore it from a backup");
  } else {
    check(keys_rc, "mdb_dbi_open (keys)");
  }
  // Chunks (format 4): a writable open adds the database to an older store
  // (older builds ignore it); the first write that stores a chunk raises the
  // store's format.
  const int chunks_rc = mdb_dbi_open(txn.get(), "chunks", writable ? MDB_CREATE : 0, &dbis_.chunks);
  if (chunks_rc == MDB_NOTFOUND && meta.format_version < 4) {
    dbis_.chunks = 0;
  } else if (chunks_rc == MDB_NOTFOUND) {
    throw open_failed("instadump: the store in " + dir_.string() +
                      " has no \"chunks\" database; it is damaged: restore it from a backup");
  } else {
    check(chunks_rc, "mdb_dbi_open (chunks)");
  }
  // Committing (also for a read transaction) keeps the database handles open.
  txn.commit();
  late_databases_open_ = dbis_.keys != 0 && dbis_.chunks != 0;
}

void store_environment::open_late_databases() const {
  instadump::detail::lock_guard lock(mu);
  if (dbis_.keys != 0 && dbis_.chunks != 0) return;
  lmdb::transaction txn(handle(), MDB_RDONLY);
  MDB_dbi keys = dbis_.keys, chunks = dbis_.chunks;
  if (keys == 0) {
    const int rc = mdb_dbi_open(txn.get(), "keys", 0, &keys);
    if (rc == MDB_NOTFOUND) {
      keys = 0;  // still format 1
    } else {
      check(rc, "mdb_dbi_open (keys)");
    }
  }
  if (chunks == 0) {
    const int rc = mdb_dbi_open(txn.get(), "chunks", 0, &chunks);
    if (rc == MDB_NOTFOUND) {
      chunks = 0;  // no writer of format 4 yet
    } else {
      check(rc, "mdb_dbi_open (chunks)");
    }
  }
  txn.commit();
  dbis_.keys = keys;
  dbis_.chunks = chunks;
  if (keys != 0 && chunks != 0) late_databases_open_.store(true, std::memory_order_release);
}

void store_environment::check_process() const {
  if (forked()) {
    throw storage_error("instadump: the store in " + dir_.string() + " was opened by process " +
                        std::to_string(pid_) + " and is used in process " + std::to_string(::getpid()) +
                        " (a fork() child); LMDB environments cannot be shared across fork(): open the "
                        "store again in the child");
  }
}

void store_environment::refuse_writes_if_poisoned() const {
  if (poisoned_) {
    throw save_failed("instadump: an earlier flush of the store in " + dir_.string() +
                      " failed, so its writes can no longer be trusted: " + advice::reopen_store +
                      " (the last durable snapshot is intact) and check the disk");
  }
}

void store_environment::sync_or_poison(const std::string& what) {
  unsynced_ = false;  // (a commit from now on marks it again)
  const int injected = detail::take_injected_sync_failure();
  const int rc = injected != 0 ? injected : mdb_env_sync(env_->get(), 1);
  if (rc != 0) {
    // fsyncgate: after a failed fsync Linux may have dropped the dirty
    // pages and report success next time, so nothing this process
    // writes from now on can be trusted to reach the disk.
    poisoned_ = true;
    throw save_failed("instadump: flushing " + what + " to disk failed (" +
                      describe_write_failure(rc, std::string("mdb_env_sync: ") + mdb_strerror(rc), dir_) +
                      "); it may not be durable and the store refuses further writes: " + advice::reopen_store +
                      " (the last durable snapshot is intact) and check the disk");
  }
}

// LMDB hands out a page freed by transaction T only from transaction T + 2 on
// (until T + 1 has committed, a crash could fall back to the snapshot before
// T, which still uses the page). With one commit per save, the blob a save
// frees could hold only the save after next, so the file kept one blob more
// than K + 1 around (plus fragments). A second, empty commit right after a
// save that freed much makes those pages usable by the next save. It
// rewrites a counter with its own value (LMDB skips commits that change
// nothing) and syncs only its few data pages, like every commit here.
// Failing changes nothing stored: the only cost is the space.
void store_environment::settle_freed_pages(std::uint64_t freed_bytes) noexcept {
  constexpr std::uint64_t kSettleBytes = std::uint64_t{1} << 20;  // below this, reuse two saves later is fine
  if (freed_bytes < kSettleBytes) return;
  try {
    lmdb::transaction txn(handle(), 0);
    const std::uint64_t oldest = read_counter(txn.get(), dbis_.meta, kMetaOldestKey, 0);
    write_counter(txn.get(), dbis_.meta, kMetaOldestKey, oldest);
    txn.commit();
  } catch (const lmdb_failure& e) {
    // Not flushed: as after any failed flush, nothing written from now on
    // can be trusted (see write_snapshot); the next write says so.
    if (lmdb::is_io_error(e.code())) poisoned_ = true;
  } catch (...) {
  }
}

}  // namespace instadump::storage

// The snapshot store over LMDB: opening, reading, and the retry loop of
// writes (see snapshot_store.h for the API and layout, docs/FORMAT.md for the
// format; the write itself is in snapshot_writer.cpp).
#include "storage/snapshot_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "common/errors.h"
#include "common/limits.h"
#include "storage/checksum.h"
#include "storage/file_lock.h"
#include "storage/lmdb_env.h"
#include "storage/record_io.h"
#include "storage/snapshot_journal.h"
#include "storage/snapshot_writer.h"
#include "storage/store_directory.h"
#include "storage/test_hooks.h"

namespace instadump::storage {
namespace {

using lmdb::check;
using lmdb::id_key;
using lmdb::text_key;
using lmdb::lmdb_failure;

std::atomic<int> g_fail_next_sync{0};

// Map growth stops here (1 TiB): a write that needs more is refused.
constexpr std::size_t kMaxMapSize = std::size_t{1} << 40;

bool is_io_error(int code) { return code == EIO || code == MDB_PANIC; }

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

namespace testing {
void fail_next_sync(int errno_code) { g_fail_next_sync.store(errno_code); }
}  // namespace testing

namespace detail {
int take_injected_sync_failure() noexcept { return g_fail_next_sync.exchange(0); }
}  // namespace detail

snapshot_store::snapshot_store(std::filesystem::path dir, const store_options& options)
    : dir_(std::move(dir)), options_(options), pid_(::getpid()), dbi_(std::make_unique<dbis>()) {}

snapshot_store::~snapshot_store() {
  // In a forked child mdb_env_close would release the parent's reader slots:
  // leave the environment alone there.
  if (::getpid() != pid_) {
    if (env_) env_->abandon();
    (void)journal_.release();  // its applier thread is the parent's: do not join it
    return;
  }
  if (journal_) {
    stop_applier();
    try {
      apply_journaled();  // what does not make it stays journaled for the next open
    } catch (...) {
    }
    journal_.reset();
  }
  env_.reset();
  if (registered_) unregister_open_directory(dir_identity_);
}

std::unique_ptr<snapshot_store> snapshot_store::open(const std::filesystem::path& path,
                                                     const store_options& options) {
  if (options.keep_generations == 0) {
    throw std::invalid_argument("instadump: store_options.keep_generations must be at least 1");
  }
  if (options.initial_map_size == 0) {
    throw std::invalid_argument("instadump: store_options.initial_map_size must not be 0");
  }
  if (options.journal && options.journal_bytes < (std::size_t{64} << 10)) {
    throw std::invalid_argument("instadump: store_options.journal_bytes must be at least 64 KiB");
  }
  // "a/b/" names the directory "a/b": without this, parent_path() would be
  // the directory itself and it would be created without mode 0700.
  const std::filesystem::path dir = path.has_filename() ? path : path.parent_path();
  prepare_directory(dir, options.read_only);
  std::unique_ptr<snapshot_store> store(new snapshot_store(dir, options));
  const auto id = identity_of(dir);
  register_open_directory(dir, id);
  store->registered_ = true;
  store->dir_identity_ = id;
  if (!options.read_only) store->lock_ = std::make_unique<directory_lock>(dir);
  try {
    // MDB_NOMETASYNC: each commit flushes the data pages but not the meta page,
    // so a machine crash can lose only the newest non-durable snapshot and never
    // damages the database (MDB_NOSYNC could). Durable writes flush the meta
    // page with mdb_env_sync.
    const unsigned flags = options.read_only ? MDB_RDONLY : MDB_NOMETASYNC;
    store->env_ = std::make_unique<lmdb::environment>(dir, flags, options.initial_map_size, 8);
  } catch (const lmdb_failure& e) {
    const std::string where = "instadump: cannot open the store in " + dir.string() + ": ";
    if (e.code() == MDB_INVALID) {
      throw open_failed(where + "data.mdb is not an LMDB database; use an empty directory for a new store");
    }
    if (e.code() == MDB_VERSION_MISMATCH) {
      throw open_failed(where + "data.mdb was written by an incompatible LMDB version (" + e.what() + ")");
    }
    if (e.code() == ENOENT && options.read_only) {
      throw open_failed(where + "it holds no store (no data.mdb); open it writable once to create it");
    }
    throw open_failed(where + e.what());
  }
  set_close_on_exec(dir);
  try {
    store->stale_readers_cleared_ = store->env_->clear_stale_readers();
    store->initialize();
    if (!options.read_only && options.journal) store->open_journal();
  } catch (const lmdb_failure& e) {
    if (e.code() == MDB_INCOMPATIBLE) {
      throw open_failed("instadump: " + dir.string() +
                        " holds an LMDB environment that is not an Instadump store; use an empty directory");
    }
    throw open_failed("instadump: cannot open the store in " + dir.string() + ": " + e.what());
  } catch (const corrupt_data& e) {
    throw open_failed(std::string(e.what()) + "; this is not a usable Instadump store");
  }
  return store;
}

// Opens the named databases and checks (or, for a fresh store, writes) the
// meta record.
void snapshot_store::initialize() {
  const bool writable = !options_.read_only;
  lmdb::transaction txn(env_->get(), writable ? 0 : MDB_RDONLY);
  const int rc = mdb_dbi_open(txn.get(), "meta", 0, &dbi_->meta);
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
    check(mdb_dbi_open(txn.get(), "meta", MDB_CREATE, &dbi_->meta), "mdb_dbi_open (meta)");
    check(mdb_dbi_open(txn.get(), "snapshots", MDB_CREATE, &dbi_->snapshots), "mdb_dbi_open (snapshots)");
    check(mdb_dbi_open(txn.get(), "blobs", MDB_CREATE, &dbi_->blobs), "mdb_dbi_open (blobs)");
    check(mdb_dbi_open(txn.get(), "schemas", MDB_CREATE, &dbi_->schemas), "mdb_dbi_open (schemas)");
    check(mdb_dbi_open(txn.get(), "keys", MDB_CREATE, &dbi_->keys), "mdb_dbi_open (keys)");
    auto meta = encode_store_meta(store_meta{format_version, now_unix_nanos()});
    MDB_val k = text_key(kMetaStoreKey);
    MDB_val v{meta.asBytes().size(), meta.asBytes().begin()};
    check(mdb_put(txn.get(), dbi_->meta, &k, &v, 0), "mdb_put (meta)");
    write_counter(txn.get(), dbi_->meta, kMetaNextBlobKey, 1);
    write_counter(txn.get(), dbi_->meta, kMetaNextKeyIdKey, 1);
    txn.commit();
    // The new store's files exist now: make sure nobody else can read them
    // whatever the umask was.
    ::chmod((dir_ / "data.mdb").c_str(), 0600);
    ::chmod((dir_ / "lock.mdb").c_str(), 0600);
    return;
  }
  check(rc, "mdb_dbi_open (meta)");
  MDB_val k = text_key(kMetaStoreKey), v;
  const int get_rc = mdb_get(txn.get(), dbi_->meta, &k, &v);
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
  open_existing(txn.get(), "snapshots", &dbi_->snapshots, dir_);
  open_existing(txn.get(), "blobs", &dbi_->blobs, dir_);
  open_existing(txn.get(), "schemas", &dbi_->schemas, dir_);
  // Format 1 has no key table. A writable open adds an empty one (older
  // builds ignore databases they do not know); the first write fills it.
  const int keys_rc = mdb_dbi_open(txn.get(), "keys", writable ? MDB_CREATE : 0, &dbi_->keys);
  if (keys_rc == MDB_NOTFOUND && meta.format_version == 1) {
    dbi_->keys = 0;
  } else if (keys_rc == MDB_NOTFOUND) {
    throw open_failed("instadump: the store in " + dir_.string() +
                      " has no \"keys\" database; it is damaged: restore it from a backup");
  } else {
    check(keys_rc, "mdb_dbi_open (keys)");
  }
  // Committing (also for a read transaction) keeps the database handles open.
  txn.commit();
}

void snapshot_store::open_keys_database() const {
  std::unique_lock lock(mutex_);
  if (dbi_->keys != 0) return;
  lmdb::transaction txn(env_->get(), MDB_RDONLY);
  MDB_dbi keys = 0;
  const int rc = mdb_dbi_open(txn.get(), "keys", 0, &keys);
  if (rc == MDB_NOTFOUND) return;  // still format 1
  check(rc, "mdb_dbi_open (keys)");
  txn.commit();
  dbi_->keys = keys;
}

void snapshot_store::check_process() const {
  if (::getpid() != pid_) {
    throw storage_error("instadump: the store in " + dir_.string() + " was opened by process " +
                        std::to_string(pid_) + " and is used in process " + std::to_string(::getpid()) +
                        " (a fork() child); LMDB environments cannot be shared across fork(): open the "
                        "store again in the child");
  }
}

template <typename F>
auto snapshot_store::with_read_txn(F&& f) const {
  check_process();
  catch_up();
  // A writer in another process may have converted a format 1 store since
  // this read-only store was opened; its key table is needed now.
  if (dbi_->keys == 0) open_keys_database();
  for (int attempt = 0;; ++attempt) {
    {
      std::shared_lock lock(mutex_);
      try {
        lmdb::transaction txn(env_->get(), MDB_RDONLY);
        return f(txn.get());
      } catch (const lmdb_failure& e) {
        if (e.code() == MDB_CORRUPTED || e.code() == MDB_PAGE_NOTFOUND) {
          throw corrupt_data("instadump: the store in " + dir_.string() + " is damaged (" + e.what() +
                             "); restore it from a backup");
        }
        if (e.code() != MDB_MAP_RESIZED || attempt >= 8) {
          throw load_failed("instadump: reading the store in " + dir_.string() + " failed: " + e.what());
        }
      }
    }
    std::unique_lock lock(mutex_);
    try {
      env_->adopt_map_size();
    } catch (const lmdb_failure& e) {
      throw load_failed("instadump: cannot map the grown store in " + dir_.string() + ": " + e.what());
    }
  }
}

std::vector<snapshot_info> snapshot_store::list_snapshots() const {
  return with_read_txn([&](MDB_txn* txn) {
    const stored_chain chain = read_chain(txn, *dbi_, dir_);
    std::vector<snapshot_info> result;
    for (std::uint64_t id : chain.kept_ids()) {
      result.push_back(info_of(chain, id, view_of(chain, id, dir_), dir_));
    }
    return result;
  });
}

std::vector<std::uint64_t> snapshot_store::snapshot_ids() const {
  return with_read_txn([&](MDB_txn* txn) {
    const std::uint32_t format = read_format(txn, *dbi_, dir_);
    std::uint64_t oldest = format == 1 ? 0 : read_counter(txn, dbi_->meta, kMetaOldestKey, 0);
    std::vector<std::uint64_t> ids;
    lmdb::for_each_record(txn, dbi_->snapshots, true, [&](const MDB_val& k, const MDB_val&) {
      const std::uint64_t id = lmdb::decode_id_key(k);
      if (id >= oldest) ids.push_back(id);
    });
    return ids;
  });
}

std::optional<snapshot_info> snapshot_store::newest() const {
  return with_read_txn([&](MDB_txn* txn) -> std::optional<snapshot_info> {
    const stored_chain chain = read_chain(txn, *dbi_, dir_);
    if (chain.links.empty()) return std::nullopt;
    const std::uint64_t id = chain.newest();
    return info_of(chain, id, view_of(chain, id, dir_), dir_);
  });
}

void snapshot_store::read_snapshot(
    std::uint64_t id, const std::function<void(const entry_info&, kj::ArrayPtr<const capnp::word>)>& visit) const {
  with_read_txn([&](MDB_txn* txn) {
    const std::string name = snapshot_name(id, dir_);
    const stored_chain chain = read_chain(txn, *dbi_, dir_);
    const snapshot_info info = info_of(chain, id, view_of(chain, id, dir_), dir_, false);
    // Verify everything before visiting anything, so a damaged snapshot is
    // rejected as a whole.
    std::unordered_map<std::uint64_t, std::span<const std::byte>> blobs;
    std::vector<std::span<const std::byte>> bytes_of_entry;
    bytes_of_entry.reserve(info.entries.size());
    for (const entry_info& e : info.entries) {
      // (Built only for an error: once per value, it would cost as much as checking it.)
      auto what = [&] { return "value \"" + e.key + "\" of " + name; };
      std::span<const std::byte> bytes;
      if (e.size_bytes != 0) {
        auto [it, fresh] = blobs.try_emplace(e.blob_id);
        if (fresh) {
          id_key blob_key(e.blob_id);
          MDB_val bk = blob_key.val(), bv;
          const int brc = mdb_get(txn, dbi_->blobs, &bk, &bv);
          if (brc == MDB_NOTFOUND) {
            blobs.erase(it);
            throw corrupt_data("instadump: the bytes of " + what() + " (blob " + std::to_string(e.blob_id) +
                               ") are missing; the snapshot is damaged: load an older snapshot");
          }
          check(brc, "mdb_get (blob)");
          it->second = lmdb::bytes_of(bv);
        }
        const std::span<const std::byte> blob = it->second;
        if (e.offset > blob.size() || blob.size() - e.offset < e.size_bytes) {
          throw corrupt_data("instadump: " + what() + " takes " + std::to_string(e.size_bytes) + " bytes at offset " +
                             std::to_string(e.offset) + " of blob " + std::to_string(e.blob_id) + ", which is " +
                             std::to_string(blob.size()) +
                             " bytes long; the snapshot is damaged or truncated: load an older snapshot");
        }
        bytes = blob.subspan(e.offset, e.size_bytes);
      }
      const std::uint64_t sum = checksum_of(bytes);
      if (sum != e.checksum) {
        throw corrupt_data("instadump: checksum mismatch for " + what() + " (stored " + std::to_string(e.checksum) +
                           ", computed " + std::to_string(sum) +
                           "); the snapshot is damaged: load an older snapshot");
      }
      bytes_of_entry.push_back(bytes);
    }
    for (std::size_t i = 0; i < info.entries.size(); ++i) {
      aligned_words words(bytes_of_entry[i]);
      visit(info.entries[i], words.words());
    }
  });
}

std::optional<std::vector<std::byte>> snapshot_store::get_schema(std::uint64_t fingerprint) const {
  return with_read_txn([&](MDB_txn* txn) -> std::optional<std::vector<std::byte>> {
    id_key key(fingerprint);
    MDB_val k = key.val(), v;
    const int rc = mdb_get(txn, dbi_->schemas, &k, &v);
    if (rc == MDB_NOTFOUND) return std::nullopt;
    check(rc, "mdb_get (schema)");
    const auto bytes = lmdb::bytes_of(v);
    return std::vector<std::byte>(bytes.begin(), bytes.end());
  });
}

store_stats snapshot_store::stats() const {
  return with_read_txn([&](MDB_txn* txn) {
    store_stats s;
    std::error_code ec;
    s.file_bytes = std::filesystem::file_size(dir_ / "data.mdb", ec);
    MDB_envinfo info;
    check(mdb_env_info(env_->get(), &info), "mdb_env_info");
    MDB_stat env_stat;
    check(mdb_env_stat(env_->get(), &env_stat), "mdb_env_stat");
    s.map_bytes = info.me_mapsize;
    s.used_bytes = (std::uint64_t{info.me_last_pgno} + 1) * env_stat.ms_psize;
    const std::uint32_t format = read_format(txn, *dbi_, dir_);
    const std::uint64_t oldest = format == 1 ? 0 : read_counter(txn, dbi_->meta, kMetaOldestKey, 0);
    lmdb::for_each_record(txn, dbi_->snapshots, false, [&](const MDB_val& k, const MDB_val&) {
      if (lmdb::decode_id_key(k) >= oldest) ++s.snapshot_count;
    });
    MDB_stat st;
    check(mdb_stat(txn, dbi_->blobs, &st), "mdb_stat (blobs)");
    s.blob_count = st.ms_entries;
    lmdb::for_each_record(txn, dbi_->blobs, false,
                          [&](const MDB_val&, const MDB_val& v) { s.live_bytes += v.mv_size; });
    s.stale_readers_cleared = stale_readers_cleared_;
    return s;
  });
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
void snapshot_store::settle_freed_pages(std::uint64_t freed_bytes) noexcept {
  constexpr std::uint64_t kSettleBytes = std::uint64_t{1} << 20;  // below this, reuse two saves later is fine
  if (freed_bytes < kSettleBytes) return;
  try {
    lmdb::transaction txn(env_->get(), 0);
    const std::uint64_t oldest = read_counter(txn.get(), dbi_->meta, kMetaOldestKey, 0);
    write_counter(txn.get(), dbi_->meta, kMetaOldestKey, oldest);
    txn.commit();
  } catch (const lmdb_failure& e) {
    // Not flushed: as after any failed flush, nothing written from now on
    // can be trusted (see write_snapshot); the next write says so.
    if (is_io_error(e.code())) poisoned_ = true;
  } catch (...) {
  }
}

snapshot_info snapshot_store::write_snapshot(std::vector<std::variant<new_value, kept_value>> values,
                                             bool durable, std::span<const schema_record> schemas) {
  return write_snapshot(0, snapshot_delta{std::move(values), {}}, durable, schemas);
}

snapshot_info snapshot_store::write_snapshot(std::uint64_t base_id, snapshot_delta delta, bool durable,
                                             std::span<const schema_record> schemas) {
  const auto& values = delta.put;
  check_process();
  if (options_.read_only) {
    throw save_failed("instadump: the store in " + dir_.string() +
                      " was opened read-only; open it with read_only = false to write snapshots");
  }
  // (Keys appearing twice are found once names are ids.)
  for (const auto& value : values) {
    const std::string_view key = std::visit([](const auto& v) { return v.key; }, value);
    if (key.empty()) throw save_failed("instadump: a value to save has an empty key; every value needs a name");
    if (key.size() > limits::checked.key_bytes) {
      throw limit_exceeded("instadump: cannot save the value named '" + std::string(key.substr(0, 60)) + "...': its name is " +
                               std::to_string(key.size()) + " bytes long, and a name is stored as one LMDB value of "
                               "at most " + std::to_string(limits::checked.key_bytes) +
                               " bytes (README, \"Limits\"); register it under a shorter key. Nothing was written, "
                               "the previous snapshots are intact",
                           limits::checked.key_bytes, key.size());
    }
    if (const auto* v = std::get_if<new_value>(&value)) {
      if (v->size_bytes % sizeof(capnp::word) != 0) {
        throw save_failed("instadump: value \"" + std::string(key) + "\" is " + std::to_string(v->size_bytes) +
                          " bytes long; the size must be a multiple of 8 (whole Cap'n Proto words)");
      }
      if (!v->fill && !v->fill_in_place && v->bytes.size() != v->size_bytes) {
        throw save_failed("instadump: value \"" + std::string(key) +
                          "\" has no fill function, and not size_bytes bytes either");
      }
    }
  }

  std::lock_guard write(write_mu_);
  if (poisoned_) {
    throw save_failed("instadump: an earlier flush of the store in " + dir_.string() +
                      " failed, so its writes can no longer be trusted; close and reopen the store "
                      "(the last durable snapshot is intact) and check the disk");
  }
  if (journal_) {
    if (std::optional<snapshot_info> info = write_journaled(base_id, delta, durable, schemas)) return std::move(*info);
    // Written directly, on top of the journaled snapshots: they go first.
    apply_journaled();
  }
  snapshot_info info = write_direct(base_id, delta, durable, schemas);
  if (journal_) journal_->planned = false;  // the next journaled save plans from data.mdb again
  return info;
}

void snapshot_store::sync_or_poison(const std::string& what) {
  const int injected = detail::take_injected_sync_failure();
  const int rc = injected != 0 ? injected : mdb_env_sync(env_->get(), 1);
  if (rc != 0) {
    // fsyncgate: after a failed fsync Linux may have dropped the dirty
    // pages and report success next time, so nothing this process
    // writes from now on can be trusted to reach the disk.
    poisoned_ = true;
    throw save_failed("instadump: flushing " + what + " to disk failed (" + mdb_strerror(rc) +
                      "); it may not be durable and the store refuses further writes: close and reopen it (the "
                      "last durable snapshot is intact) and check the disk");
  }
}

snapshot_info snapshot_store::write_direct(std::uint64_t base_id, const snapshot_delta& delta, bool durable,
                                           std::span<const schema_record> schemas) {
  const auto& values = delta.put;
  std::size_t new_bytes = 0;
  for (const auto& value : values) {
    if (const auto* v = std::get_if<new_value>(&value)) new_bytes += v->size_bytes;
  }
  std::unique_lock lock(mutex_);
  std::vector<std::size_t> rooms;  // grown for values filled in place that needed more
  for (int room_retries = 0;;) {
    snapshot_info info;
    std::uint64_t freed_bytes = 0;
    try {
      info = write_once(base_id, delta, rooms, schemas, freed_bytes);
    } catch (const room_needed& r) {
      if (++room_retries > 8) {
        throw save_failed("instadump: value \"" + std::string(std::get<new_value>(values[r.index]).key) +
                          "\" kept asking for more room (" + std::to_string(r.bytes) + " bytes); nothing was written");
      }
      rooms.resize(values.size(), 0);
      rooms[r.index] = r.bytes;
      new_bytes += r.bytes;
      continue;
    } catch (const lmdb_failure& e) {
      if (e.code() == MDB_MAP_FULL) {
        const std::size_t current = env_->map_size();
        if (current >= kMaxMapSize) {
          throw save_failed("instadump: the store in " + dir_.string() + " reached the map size limit of " +
                            std::to_string(kMaxMapSize) + " bytes; nothing was written");
        }
        try {
          env_->grow_map(new_bytes * 2 + (std::size_t{1} << 20));
        } catch (const lmdb_failure& g) {
          throw save_failed("instadump: the store in " + dir_.string() + " is full and its map cannot grow (" +
                            g.what() + "); nothing was written");
        }
        continue;
      }
      if (is_io_error(e.code())) poisoned_ = true;
      throw save_failed("instadump: writing a snapshot to " + dir_.string() + " failed (" + e.what() + "); " +
                        (poisoned_ ? "the store must be reopened; the last durable snapshot is intact"
                                   : "nothing was written; earlier snapshots are intact"));
    }
    if (durable) sync_or_poison(snapshot_name(info.id, dir_));
    settle_freed_pages(freed_bytes);
    for (std::size_t i = 0; delta.entry_keys && i < values.size(); ++i) {
      info.entries[i].key = std::visit([](const auto& v) { return v.key; }, values[i]);
    }
    return info;
  }
}

}  // namespace instadump::storage

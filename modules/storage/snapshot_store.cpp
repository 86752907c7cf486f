// The snapshot store over LMDB (see snapshot_store.h for the API and layout,
// docs/FORMAT.md for the format).
#include "storage/snapshot_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>

#include "common/errors.h"
#include "storage/checksum.h"
#include "storage/file_lock.h"
#include "storage/lmdb_env.h"
#include "storage/test_hooks.h"

namespace instadump::storage {
namespace {

using lmdb::check;
using lmdb::id_key;
using lmdb::lmdb_failure;

std::atomic<int> g_fail_next_sync{0};

constexpr const char* kMetaStoreKey = "store";
constexpr const char* kMetaNextBlobKey = "next_blob_id";
// Map growth stops here (1 TiB): a write that needs more is refused.
constexpr std::size_t kMaxMapSize = std::size_t{1} << 40;

std::int64_t now_unix_nanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

MDB_val text_key(const char* s) { return MDB_val{std::strlen(s), const_cast<char*>(s)}; }

std::string snapshot_name(std::uint64_t id, const std::filesystem::path& dir) {
  return "snapshot " + std::to_string(id) + " in " + dir.string();
}

// Makes sure `dir` is a usable directory, creating it (0700) for writable opens.
void prepare_directory(const std::filesystem::path& dir, bool read_only) {
  std::error_code ec;
  auto status = std::filesystem::status(dir, ec);
  if (std::filesystem::exists(status) && !std::filesystem::is_directory(status)) {
    throw open_failed("instadump: " + dir.string() +
                      " is not a directory; a snapshot store needs a directory of its own");
  }
  if (!std::filesystem::exists(status)) {
    if (read_only) {
      throw open_failed("instadump: there is no snapshot store in " + dir.string() +
                        " (the directory does not exist); open it writable once to create it");
    }
    if (dir.has_parent_path()) {
      std::filesystem::create_directories(dir.parent_path(), ec);
      if (ec) {
        throw open_failed("instadump: cannot create the directory " + dir.parent_path().string() +
                          " for the store in " + dir.string() + ": " + ec.message());
      }
    }
    // 0700: snapshots hold the program's whole state; nobody else should read them.
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      const int err = errno;
      throw open_failed("instadump: cannot create the store directory " + dir.string() + ": " +
                        std::strerror(err));
    }
    if (!std::filesystem::is_directory(dir, ec)) {
      throw open_failed("instadump: " + dir.string() + " is not a directory after creating it");
    }
  }
  const int mode = read_only ? (R_OK | X_OK) : (R_OK | W_OK | X_OK);
  if (::access(dir.c_str(), mode) != 0) {
    const int err = errno;
    throw open_failed("instadump: the store directory " + dir.string() + " is not " +
                      (read_only ? "readable" : "writable") + " (" + std::strerror(err) +
                      "); fix its permissions or open another directory");
  }
}

// LMDB opens its files with O_CLOEXEC where the platform has it; make sure of
// it for every descriptor that points into the store, so an exec'd child
// cannot hold the files (and their locks) open.
void set_close_on_exec(const std::filesystem::path& dir) {
  std::error_code ec;
  const std::string prefix = std::filesystem::canonical(dir, ec).string() + "/";
  if (ec) return;
  DIR* fds = ::opendir("/proc/self/fd");
  if (fds == nullptr) return;
  while (dirent* d = ::readdir(fds)) {
    const int fd = std::atoi(d->d_name);
    if (d->d_name[0] == '.' || fd == ::dirfd(fds)) continue;
    char target[4096];
    const std::string link = std::string("/proc/self/fd/") + d->d_name;
    const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
    if (n <= 0) continue;
    target[n] = '\0';
    if (std::string_view(target).starts_with(prefix)) {
      const int flags = ::fcntl(fd, F_GETFD);
      if (flags >= 0 && !(flags & FD_CLOEXEC)) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
  }
  ::closedir(fds);
}

std::uint64_t read_counter(MDB_txn* txn, MDB_dbi dbi, const char* key, std::uint64_t missing) {
  MDB_val k = text_key(key), v;
  const int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return missing;
  check(rc, "mdb_get (counter)");
  return lmdb::decode_id_key(v);
}

void write_counter(MDB_txn* txn, MDB_dbi dbi, const char* key, std::uint64_t value) {
  MDB_val k = text_key(key);
  id_key encoded(value);
  MDB_val v = encoded.val();
  check(mdb_put(txn, dbi, &k, &v, 0), "mdb_put (counter)");
}

bool is_io_error(int code) { return code == EIO || code == MDB_PANIC; }

// Directories (device, inode) this process has open. LMDB must not open one
// environment twice in a process: its fcntl locks are per process, so closing
// the second handle would drop the first one's locks and let another process
// reset the shared reader table under it. Entries record the opening pid so a
// forked child, which inherits a copy, ignores its parent's entries.
struct open_directory {
  dev_t dev;
  ino_t ino;
  pid_t pid;
};
std::mutex g_open_mutex;
std::vector<open_directory> g_open_directories;

std::pair<dev_t, ino_t> identity_of(const std::filesystem::path& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    const int err = errno;
    throw open_failed("instadump: cannot stat the store directory " + dir.string() + ": " + std::strerror(err));
  }
  return {st.st_dev, st.st_ino};
}

void register_open_directory(const std::filesystem::path& dir, std::pair<dev_t, ino_t> id) {
  std::lock_guard lock(g_open_mutex);
  const pid_t self = ::getpid();
  std::erase_if(g_open_directories, [&](const open_directory& d) { return d.pid != self; });
  for (const open_directory& d : g_open_directories) {
    if (d.dev == id.first && d.ino == id.second) {
      throw open_failed("instadump: the store in " + dir.string() +
                        " is already open in this process; LMDB cannot open one store twice in a process: "
                        "share the open snapshot_store instead");
    }
  }
  g_open_directories.push_back({id.first, id.second, self});
}

void unregister_open_directory(std::pair<dev_t, ino_t> id) {
  std::lock_guard lock(g_open_mutex);
  const pid_t self = ::getpid();
  std::erase_if(g_open_directories, [&](const open_directory& d) {
    return d.pid == self && d.dev == id.first && d.ino == id.second;
  });
}

}  // namespace

namespace testing {
void fail_next_sync(int errno_code) { g_fail_next_sync.store(errno_code); }
}  // namespace testing

struct snapshot_store::dbis {
  MDB_dbi meta = 0, snapshots = 0, blobs = 0, schemas = 0;
};

snapshot_store::snapshot_store(std::filesystem::path dir, const store_options& options)
    : dir_(std::move(dir)), options_(options), pid_(::getpid()), dbi_(std::make_unique<dbis>()) {}

snapshot_store::~snapshot_store() {
  // In a forked child mdb_env_close would release the parent's reader slots:
  // leave the environment alone there.
  if (::getpid() != pid_) {
    if (env_) env_->abandon();
    return;
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
    auto meta = encode_store_meta(store_meta{format_version, now_unix_nanos()});
    MDB_val k = text_key(kMetaStoreKey);
    MDB_val v{meta.asBytes().size(), meta.asBytes().begin()};
    check(mdb_put(txn.get(), dbi_->meta, &k, &v, 0), "mdb_put (meta)");
    write_counter(txn.get(), dbi_->meta, kMetaNextBlobKey, 1);
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
  for (auto [name, dbi] : {std::pair{"snapshots", &dbi_->snapshots}, std::pair{"blobs", &dbi_->blobs},
                           std::pair{"schemas", &dbi_->schemas}}) {
    const int open_rc = mdb_dbi_open(txn.get(), name, 0, dbi);
    if (open_rc == MDB_NOTFOUND) {
      throw open_failed("instadump: the store in " + dir_.string() + " has no \"" + name +
                        "\" database; it is damaged: restore it from a backup");
    }
    check(open_rc, "mdb_dbi_open");
  }
  // Committing (also for a read transaction) keeps the database handles open.
  txn.commit();
}

void snapshot_store::check_process() const {
  if (::getpid() != pid_) {
    throw storage_error("instadump: the store in " + dir_.string() + " was opened by process " +
                        std::to_string(pid_) + " and is used in process " + std::to_string(::getpid()) +
                        " (a fork() child); LMDB environments cannot be shared across fork(): open the "
                        "store again in the child");
  }
}

// Runs f(read transaction) under the shared lock. When another process has
// grown the map (MDB_MAP_RESIZED), adopts the new size under the exclusive
// lock and retries. LMDB failures become corrupt_data or load_failed.
template <typename F>
auto snapshot_store::with_read_txn(F&& f) const {
  check_process();
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
    std::vector<snapshot_info> result;
    lmdb::for_each_record(txn, dbi_->snapshots, true, [&](const MDB_val& k, const MDB_val& v) {
      const std::uint64_t id = lmdb::decode_id_key(k);
      result.push_back(decode_manifest(lmdb::bytes_of(v), "the manifest of " + snapshot_name(id, dir_)));
    });
    return result;
  });
}

std::vector<std::uint64_t> snapshot_store::snapshot_ids() const {
  return with_read_txn([&](MDB_txn* txn) {
    std::vector<std::uint64_t> ids;
    lmdb::for_each_record(txn, dbi_->snapshots, true,
                          [&](const MDB_val& k, const MDB_val&) { ids.push_back(lmdb::decode_id_key(k)); });
    return ids;
  });
}

std::optional<snapshot_info> snapshot_store::newest() const {
  return with_read_txn([&](MDB_txn* txn) -> std::optional<snapshot_info> {
    MDB_cursor* cursor = nullptr;
    check(mdb_cursor_open(txn, dbi_->snapshots, &cursor), "mdb_cursor_open");
    std::unique_ptr<MDB_cursor, void (*)(MDB_cursor*)> guard(cursor, mdb_cursor_close);
    MDB_val k, v;
    const int rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST);
    if (rc == MDB_NOTFOUND) return std::nullopt;
    check(rc, "mdb_cursor_get (snapshots)");
    const std::uint64_t id = lmdb::decode_id_key(k);
    return decode_manifest(lmdb::bytes_of(v), "the manifest of " + snapshot_name(id, dir_));
  });
}

void snapshot_store::read_snapshot(
    std::uint64_t id, const std::function<void(const entry_info&, kj::ArrayPtr<const capnp::word>)>& visit) const {
  with_read_txn([&](MDB_txn* txn) {
    const std::string name = snapshot_name(id, dir_);
    id_key key(id);
    MDB_val k = key.val(), v;
    const int rc = mdb_get(txn, dbi_->snapshots, &k, &v);
    if (rc == MDB_NOTFOUND) {
      throw load_failed("instadump: there is no " + name +
                        " (it was never written or has been pruned); list_snapshots() shows what exists");
    }
    check(rc, "mdb_get (snapshot)");
    const snapshot_info info = decode_manifest(lmdb::bytes_of(v), "the manifest of " + name);
    if (info.id != id) {
      throw corrupt_data("instadump: the manifest stored as " + name + " says it is snapshot " +
                         std::to_string(info.id) + "; the store is damaged");
    }
    // Verify everything before visiting anything, so a damaged snapshot is
    // rejected as a whole.
    std::vector<std::span<const std::byte>> blobs;
    blobs.reserve(info.entries.size());
    for (const entry_info& e : info.entries) {
      const std::string what = "value \"" + e.key + "\" of " + name;
      id_key blob_key(e.blob_id);
      MDB_val bk = blob_key.val(), bv;
      const int brc = mdb_get(txn, dbi_->blobs, &bk, &bv);
      if (brc == MDB_NOTFOUND) {
        throw corrupt_data("instadump: the bytes of " + what + " (blob " + std::to_string(e.blob_id) +
                           ") are missing; the snapshot is damaged: load an older snapshot");
      }
      check(brc, "mdb_get (blob)");
      if (bv.mv_size != e.size_bytes || e.size_bytes % sizeof(capnp::word) != 0) {
        throw corrupt_data("instadump: " + what + " is " + std::to_string(bv.mv_size) +
                           " bytes long, the manifest expects " + std::to_string(e.size_bytes) +
                           " (a multiple of 8); the snapshot is damaged or truncated: load an older snapshot");
      }
      const auto bytes = lmdb::bytes_of(bv);
      const std::uint64_t sum = checksum_of(bytes);
      if (sum != e.checksum) {
        throw corrupt_data("instadump: checksum mismatch for " + what + " (stored " + std::to_string(e.checksum) +
                           ", computed " + std::to_string(sum) +
                           "); the snapshot is damaged: load an older snapshot");
      }
      blobs.push_back(bytes);
    }
    for (std::size_t i = 0; i < info.entries.size(); ++i) {
      aligned_words words(blobs[i]);
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
    MDB_stat st;
    check(mdb_stat(txn, dbi_->snapshots, &st), "mdb_stat (snapshots)");
    s.snapshot_count = st.ms_entries;
    check(mdb_stat(txn, dbi_->blobs, &st), "mdb_stat (blobs)");
    s.blob_count = st.ms_entries;
    lmdb::for_each_record(txn, dbi_->blobs, false,
                          [&](const MDB_val&, const MDB_val& v) { s.live_bytes += v.mv_size; });
    s.stale_readers_cleared = stale_readers_cleared_;
    return s;
  });
}

snapshot_info snapshot_store::write_snapshot(std::vector<std::variant<new_value, kept_value>> values,
                                             bool durable, std::span<const schema_record> schemas) {
  check_process();
  if (options_.read_only) {
    throw save_failed("instadump: the store in " + dir_.string() +
                      " was opened read-only; open it with read_only = false to write snapshots");
  }
  std::set<std::string_view> keys;
  std::size_t new_bytes = 0;
  for (const auto& value : values) {
    const std::string& key = std::visit([](const auto& v) -> const std::string& { return v.key; }, value);
    if (key.empty()) throw save_failed("instadump: a value to save has an empty key; every value needs a name");
    if (!keys.insert(key).second) {
      throw save_failed("instadump: the key \"" + key + "\" appears twice in one snapshot; keys must be unique");
    }
    if (const auto* v = std::get_if<new_value>(&value)) {
      if (v->size_bytes % sizeof(capnp::word) != 0) {
        throw save_failed("instadump: value \"" + key + "\" is " + std::to_string(v->size_bytes) +
                          " bytes long; the size must be a multiple of 8 (whole Cap'n Proto words)");
      }
      if (!v->fill) throw save_failed("instadump: value \"" + key + "\" has no fill function");
      new_bytes += v->size_bytes;
    }
  }

  std::unique_lock lock(mutex_);
  if (poisoned_) {
    throw save_failed("instadump: an earlier flush of the store in " + dir_.string() +
                      " failed, so its writes can no longer be trusted; close and reopen the store "
                      "(the last durable snapshot is intact) and check the disk");
  }
  for (;;) {
    snapshot_info info;
    try {
      info = write_once(values, schemas);
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
    if (durable) {
      const int injected = g_fail_next_sync.exchange(0);
      const int rc = injected != 0 ? injected : mdb_env_sync(env_->get(), 1);
      if (rc != 0) {
        // fsyncgate: after a failed fsync Linux may have dropped the dirty
        // pages and report success next time, so nothing this process
        // writes from now on can be trusted to reach the disk.
        poisoned_ = true;
        throw save_failed("instadump: flushing " + snapshot_name(info.id, dir_) + " to disk failed (" +
                          mdb_strerror(rc) + "); it may not be durable and the store refuses further writes: "
                          "close and reopen it (the last durable snapshot is intact) and check the disk");
      }
    }
    return info;
  }
}

snapshot_info snapshot_store::write_once(const std::vector<std::variant<new_value, kept_value>>& values,
                                         std::span<const schema_record> schemas) {
  lmdb::transaction txn(env_->get(), 0);
  MDB_txn* t = txn.get();

  // Manifests currently stored, oldest first. A manifest that does not decode
  // is skipped here: it must not make every later save fail.
  std::vector<std::pair<std::uint64_t, std::optional<snapshot_info>>> stored;
  lmdb::for_each_record(t, dbi_->snapshots, false, [&](const MDB_val& k, const MDB_val& v) {
    const std::uint64_t id = lmdb::decode_id_key(k);
    std::optional<snapshot_info> manifest;
    try {
      manifest = decode_manifest(lmdb::bytes_of(v), "the manifest of " + snapshot_name(id, dir_));
    } catch (const corrupt_data&) {
    }
    stored.emplace_back(id, std::move(manifest));
  });

  snapshot_info info;
  info.id = stored.empty() ? 1 : stored.back().first + 1;
  info.created_unix_nanos = now_unix_nanos();
  std::uint64_t next_blob = read_counter(t, dbi_->meta, kMetaNextBlobKey, 1);

  std::map<std::uint64_t, const entry_info*> known_blobs;  // for kept values
  for (const auto& [id, manifest] : stored) {
    if (!manifest) continue;
    for (const entry_info& e : manifest->entries) known_blobs[e.blob_id] = &e;
  }

  for (const auto& value : values) {
    if (const auto* v = std::get_if<new_value>(&value)) {
      const std::uint64_t blob_id = next_blob++;
      id_key key(blob_id);
      MDB_val k = key.val();
      MDB_val data{v->size_bytes, nullptr};
      check(mdb_put(t, dbi_->blobs, &k, &data, MDB_RESERVE | MDB_NOOVERWRITE), "mdb_put (blob)");
      std::span<std::byte> space(static_cast<std::byte*>(data.mv_data), v->size_bytes);
      try {
        v->fill(space);
      } catch (...) {
        std::throw_with_nested(save_failed("instadump: filling value \"" + v->key + "\" for a snapshot in " +
                                           dir_.string() + " threw; nothing was written"));
      }
      info.entries.push_back(entry_info{v->key, v->schema, blob_id, v->size_bytes, checksum_of(space)});
    } else {
      const auto& kept = std::get<kept_value>(value);
      auto it = known_blobs.find(kept.blob_id);
      if (it == known_blobs.end()) {
        throw save_failed("instadump: value \"" + kept.key + "\" refers to blob " + std::to_string(kept.blob_id) +
                          ", which no snapshot in " + dir_.string() +
                          " references (pruned or never written); save the value's bytes instead");
      }
      info.entries.push_back(
          entry_info{kept.key, kept.schema, kept.blob_id, it->second->size_bytes, it->second->checksum});
    }
    info.total_bytes += info.entries.back().size_bytes;
  }
  std::sort(info.entries.begin(), info.entries.end(),
            [](const entry_info& a, const entry_info& b) { return a.key < b.key; });

  {
    auto manifest = encode_manifest(info);
    id_key key(info.id);
    MDB_val k = key.val();
    MDB_val v{manifest.asBytes().size(), manifest.asBytes().begin()};
    check(mdb_put(t, dbi_->snapshots, &k, &v, MDB_NOOVERWRITE), "mdb_put (manifest)");
  }
  for (const schema_record& schema : schemas) {
    id_key key(schema.fingerprint);
    MDB_val k = key.val();
    MDB_val v{schema.bytes.size(), const_cast<std::byte*>(schema.bytes.data())};
    check(mdb_put(t, dbi_->schemas, &k, &v, 0), "mdb_put (schema)");
  }

  // Prune: drop the oldest snapshots beyond keep_generations, then the blobs
  // they referenced that no kept snapshot references.
  const std::size_t total = stored.size() + 1;
  if (total > options_.keep_generations) {
    const std::size_t drop = total - options_.keep_generations;
    std::set<std::uint64_t> candidates;
    bool all_known = true;  // only delete blobs when every kept manifest decoded
    for (std::size_t i = 0; i < stored.size(); ++i) {
      if (i < drop) {
        id_key key(stored[i].first);
        MDB_val k = key.val();
        check(mdb_del(t, dbi_->snapshots, &k, nullptr), "mdb_del (manifest)");
        if (stored[i].second) {
          for (const entry_info& e : stored[i].second->entries) candidates.insert(e.blob_id);
        }
      } else if (stored[i].second) {
        for (const entry_info& e : stored[i].second->entries) candidates.erase(e.blob_id);
      } else {
        all_known = false;
      }
    }
    for (const entry_info& e : info.entries) candidates.erase(e.blob_id);
    if (all_known) {
      for (std::uint64_t blob_id : candidates) {
        id_key key(blob_id);
        MDB_val k = key.val();
        const int rc = mdb_del(t, dbi_->blobs, &k, nullptr);
        if (rc != MDB_NOTFOUND) check(rc, "mdb_del (blob)");
      }
    }
  }
  write_counter(t, dbi_->meta, kMetaNextBlobKey, next_blob);
  txn.commit();
  return info;
}

}  // namespace instadump::storage

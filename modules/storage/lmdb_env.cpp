// RAII wrappers over LMDB and map growth (see lmdb_env.h).
#include "storage/lmdb_env.h"

#include <algorithm>
#include <memory>

namespace instadump::storage::lmdb {

lmdb_failure::lmdb_failure(int code, const std::string& what) : std::runtime_error(what), code_(code) {}

void check(int rc, const char* what) {
  if (rc != MDB_SUCCESS) throw lmdb_failure(rc, std::string(what) + ": " + mdb_strerror(rc));
}

environment::environment(const std::filesystem::path& dir, unsigned flags, std::size_t map_size,
                         unsigned max_dbs) {
  check(mdb_env_create(&env_), "mdb_env_create");
  try {
    check(mdb_env_set_maxdbs(env_, max_dbs), "mdb_env_set_maxdbs");
    // For an existing environment LMDB keeps the larger of this and the size
    // recorded in the file.
    check(mdb_env_set_mapsize(env_, map_size), "mdb_env_set_mapsize");
    check(mdb_env_open(env_, dir.c_str(), flags | MDB_NOTLS, 0600), "mdb_env_open");
  } catch (...) {
    mdb_env_close(env_);
    env_ = nullptr;
    throw;
  }
}

environment::~environment() {
  if (env_ != nullptr) mdb_env_close(env_);
}

std::size_t environment::map_size() const {
  MDB_envinfo info;
  check(mdb_env_info(env_, &info), "mdb_env_info");
  return info.me_mapsize;
}

void environment::grow_map(std::size_t extra) {
  constexpr std::size_t kMiB = std::size_t{1} << 20;
  const std::size_t current = map_size();
  std::size_t wanted = std::max(current * 2, current + extra);
  wanted = (wanted + kMiB - 1) / kMiB * kMiB;
  check(mdb_env_set_mapsize(env_, wanted), "mdb_env_set_mapsize (growing the map)");
}

void environment::adopt_map_size() { check(mdb_env_set_mapsize(env_, 0), "mdb_env_set_mapsize(0)"); }

void environment::sync() { check(mdb_env_sync(env_, 1), "mdb_env_sync"); }

int environment::clear_stale_readers() {
  int dead = 0;
  check(mdb_reader_check(env_, &dead), "mdb_reader_check");
  return dead;
}

transaction::transaction(MDB_env* env, unsigned flags, MDB_txn* parent) {
  check(mdb_txn_begin(env, parent, flags, &txn_), "mdb_txn_begin");
}

transaction::~transaction() { abort(); }

void transaction::commit() {
  MDB_txn* txn = txn_;
  txn_ = nullptr;
  check(mdb_txn_commit(txn), "mdb_txn_commit");
}

void transaction::abort() noexcept {
  if (txn_ != nullptr) mdb_txn_abort(txn_);
  txn_ = nullptr;
}

id_key::id_key(std::uint64_t id) noexcept {
  for (int i = 7; i >= 0; --i) {
    bytes_[i] = static_cast<unsigned char>(id & 0xff);
    id >>= 8;
  }
}

void for_each_record(MDB_txn* txn, MDB_dbi dbi, bool newest_first,
                     const std::function<void(const MDB_val& key, const MDB_val& value)>& visit) {
  MDB_cursor* cursor = nullptr;
  check(mdb_cursor_open(txn, dbi, &cursor), "mdb_cursor_open");
  std::unique_ptr<MDB_cursor, void (*)(MDB_cursor*)> guard(cursor, mdb_cursor_close);
  const MDB_cursor_op first = newest_first ? MDB_LAST : MDB_FIRST;
  const MDB_cursor_op next = newest_first ? MDB_PREV : MDB_NEXT;
  MDB_val k, v;
  for (int rc = mdb_cursor_get(cursor, &k, &v, first); rc != MDB_NOTFOUND; rc = mdb_cursor_get(cursor, &k, &v, next)) {
    check(rc, "mdb_cursor_get");
    visit(k, v);
  }
}

std::optional<std::uint64_t> last_id(MDB_txn* txn, MDB_dbi dbi) {
  MDB_cursor* cursor = nullptr;
  check(mdb_cursor_open(txn, dbi, &cursor), "mdb_cursor_open");
  std::unique_ptr<MDB_cursor, void (*)(MDB_cursor*)> guard(cursor, mdb_cursor_close);
  MDB_val k, v;
  const int rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  check(rc, "mdb_cursor_get");
  return decode_id_key(k);
}

std::uint64_t decode_id_key(const MDB_val& key) {
  if (key.mv_size != 8) {
    throw lmdb_failure(MDB_CORRUPTED, "a key is " + std::to_string(key.mv_size) + " bytes long, expected 8");
  }
  const auto* p = static_cast<const unsigned char*>(key.mv_data);
  std::uint64_t id = 0;
  for (int i = 0; i < 8; ++i) id = (id << 8) | p[i];
  return id;
}

}  // namespace instadump::storage::lmdb

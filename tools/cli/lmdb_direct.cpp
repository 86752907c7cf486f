// lmdb_direct.h: free pages and the compacted copy, straight from LMDB.
#include "lmdb_direct.h"

#include <lmdb.h>

#include <cstring>
#include <memory>
#include <string>

#include "cli_error.h"

namespace instadump::cli {
namespace {

void check(int rc, const std::string& what) {
  if (rc != MDB_SUCCESS) throw cli_error(what + ": " + mdb_strerror(rc));
}

// A read-only environment, closed on scope exit.
struct read_only_env {
  MDB_env* env = nullptr;
  explicit read_only_env(const std::filesystem::path& dir) {
    check(mdb_env_create(&env), "mdb_env_create");
    try {
      check(mdb_env_set_maxdbs(env, 16), "mdb_env_set_maxdbs");
      check(mdb_env_open(env, dir.c_str(), MDB_RDONLY | MDB_NOTLS, 0600), "cannot open " + (dir / "data.mdb").string());
    } catch (...) {
      mdb_env_close(env);
      throw;
    }
  }
  ~read_only_env() { mdb_env_close(env); }
  read_only_env(const read_only_env&) = delete;
  read_only_env& operator=(const read_only_env&) = delete;
};

}  // namespace

lmdb_space read_lmdb_space(const std::filesystem::path& dir) {
  read_only_env e(dir);
  lmdb_space out;
  MDB_envinfo info;
  MDB_stat stat;
  check(mdb_env_info(e.env, &info), "mdb_env_info");
  check(mdb_env_stat(e.env, &stat), "mdb_env_stat");
  out.page_size = stat.ms_psize;
  out.map_bytes = info.me_mapsize;
  out.pages_used = info.me_last_pgno + 1;
  out.readers_used = info.me_numreaders;
  out.readers_max = info.me_maxreaders;
  std::error_code ec;
  out.file_bytes = std::filesystem::file_size(dir / "data.mdb", ec);

  // The free list is LMDB's database 0: each record is a list of page
  // numbers, its first word their count.
  MDB_txn* txn = nullptr;
  check(mdb_txn_begin(e.env, nullptr, MDB_RDONLY, &txn), "mdb_txn_begin");
  std::unique_ptr<MDB_txn, void (*)(MDB_txn*)> txn_guard(txn, mdb_txn_abort);
  MDB_cursor* cursor = nullptr;
  check(mdb_cursor_open(txn, 0, &cursor), "mdb_cursor_open (free list)");
  std::unique_ptr<MDB_cursor, void (*)(MDB_cursor*)> cursor_guard(cursor, mdb_cursor_close);
  MDB_val key, value;
  for (int rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST); rc == MDB_SUCCESS;
       rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
    std::size_t count = 0;
    if (value.mv_size >= sizeof count) std::memcpy(&count, value.mv_data, sizeof count);
    out.free_pages += count;
  }
  return out;
}

std::uint64_t newest_in_data_file(const std::filesystem::path& dir) {
  read_only_env e(dir);
  MDB_txn* txn = nullptr;
  check(mdb_txn_begin(e.env, nullptr, MDB_RDONLY, &txn), "mdb_txn_begin");
  std::unique_ptr<MDB_txn, void (*)(MDB_txn*)> txn_guard(txn, mdb_txn_abort);
  MDB_dbi dbi = 0;
  if (mdb_dbi_open(txn, "snapshots", 0, &dbi) == MDB_NOTFOUND) return 0;
  MDB_cursor* cursor = nullptr;
  check(mdb_cursor_open(txn, dbi, &cursor), "mdb_cursor_open (snapshots)");
  std::unique_ptr<MDB_cursor, void (*)(MDB_cursor*)> cursor_guard(cursor, mdb_cursor_close);
  MDB_val key, value;
  if (mdb_cursor_get(cursor, &key, &value, MDB_LAST) != MDB_SUCCESS || key.mv_size != 8) return 0;
  std::uint64_t id = 0;
  for (std::size_t i = 0; i < 8; ++i) id = id << 8 | static_cast<const unsigned char*>(key.mv_data)[i];
  return id;
}

void copy_compacted(const std::filesystem::path& dir, const std::filesystem::path& dest) {
  read_only_env e(dir);
  check(mdb_env_copy2(e.env, dest.c_str(), MDB_CP_COMPACT), "cannot copy " + (dir / "data.mdb").string() + " to " +
                                                                 dest.string());
}

}  // namespace instadump::cli

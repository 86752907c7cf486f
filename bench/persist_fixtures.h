// Shared by the persist_bench sources: scratch directories, the states the
// benchmarks save through Instadump, and the hand-written savers they are
// compared with (a cereal archive in a file, SQLite, LMDB).
#pragma once

#include <cereal/archives/binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <lmdb.h>
#include <sqlite3.h>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "bench_state.h"
#include "product.h"

import instadump;

namespace bench {
extern instadump::ref<std::vector<product>> products;  // product_state.cpp
}  // namespace bench

namespace persist_bench {

namespace fs = std::filesystem;

// A new empty directory `name` under the run's scratch directory (removed
// at the end of the run by remove_scratch()).
fs::path fresh_dir(const std::string& name);
void remove_scratch();

// Throws when !ok, naming `what`.
void check(bool ok, const char* what);

// --- states -------------------------------------------------------------------

struct small_refs {
  std::vector<std::unique_ptr<instadump::ref<long>>> refs;
  std::vector<std::unique_ptr<instadump::state_registration<long>>> regs;
  explicit small_refs(int n) {
    for (int i = 0; i < n; ++i) {
      refs.push_back(std::make_unique<instadump::ref<long>>(i));
      regs.push_back(std::make_unique<instadump::state_registration<long>>(
          *refs.back(), "bench::small" + std::to_string(i), bench::long_schema, bench::long_codec));
    }
  }
  void change_all() {
    instadump::dosync([&] {
      for (auto& r : refs) r->alter([](long v) { return v + 1; });
    });
  }
};

// Fills the state bench::products (product_state.cpp, generated codec) with
// n products for one benchmark, and empties it afterwards: it is registered
// for the whole program, so the other benchmarks save it too (one more ref,
// empty and unchanged).
struct product_state {
  instadump::ref<std::vector<bench::product>>& ref = bench::products;
  explicit product_state(std::size_t n) {
    instadump::dosync([&] { ref.set(bench::make_products(n)); });
  }
  ~product_state() {
    instadump::dosync([&] { ref.set({}); });
  }
  void touch() {
    instadump::dosync([&] {
      ref.alter([](std::vector<bench::product> v) {
        v[0].price += 1;
        return v;
      });
    });
  }
};

// Opens a fresh Instadump directory for one benchmark.
struct instadump_session {
  explicit instadump_session(const std::string& name) { instadump::setup(fresh_dir(name)); }
  ~instadump_session() { instadump::shutdown(); }
};

// --- helpers for the baselines ------------------------------------------------

// Writes the file as a hand-written saver does: a temporary file, fdatasync,
// rename.
void write_file_durably(const fs::path& path, const char* data, std::size_t size);

// fsync of a directory, which makes a rename inside it survive a power cut
// (the baseline above stops short of it, as most hand-written savers do).
void sync_directory(const fs::path& dir);

template <class T>
std::string cereal_bytes(const T& value) {
  std::ostringstream out;
  {
    cereal::BinaryOutputArchive archive(out);
    archive(value);
  }
  return std::move(out).str();
}

template <class T>
void cereal_file_save(const fs::path& path, const T& value) {
  std::string bytes = cereal_bytes(value);
  write_file_durably(path, bytes.data(), bytes.size());
}

struct sqlite_db {
  sqlite3* db = nullptr;
  explicit sqlite_db(const fs::path& path) {
    check(sqlite3_open(path.c_str(), &db) == SQLITE_OK, "sqlite3_open");
    exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
    exec("CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value BLOB)");
  }
  ~sqlite_db() { sqlite3_close(db); }
  void exec(const char* sql) { check(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK, sql); }
  void put_all(const std::vector<std::pair<std::string, std::string>>& kv) {
    exec("BEGIN");
    sqlite3_stmt* st;
    check(sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO state VALUES (?, ?)", -1, &st, nullptr) == SQLITE_OK,
          "prepare");
    for (const auto& [k, v] : kv) {
      sqlite3_bind_text(st, 1, k.data(), static_cast<int>(k.size()), SQLITE_STATIC);
      sqlite3_bind_blob(st, 2, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
      check(sqlite3_step(st) == SQLITE_DONE, "step");
      sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    exec("COMMIT");
  }
};

struct lmdb_db {
  MDB_env* env = nullptr;
  MDB_dbi dbi = 0;
  explicit lmdb_db(const fs::path& dir) {
    check(mdb_env_create(&env) == 0, "mdb_env_create");
    mdb_env_set_mapsize(env, std::size_t{8} << 30);
    check(mdb_env_open(env, dir.c_str(), 0, 0600) == 0, "mdb_env_open");
    MDB_txn* txn;
    mdb_txn_begin(env, nullptr, 0, &txn);
    mdb_dbi_open(txn, nullptr, 0, &dbi);
    mdb_txn_commit(txn);
  }
  ~lmdb_db() { mdb_env_close(env); }
  void put(const std::string& key, const std::string& value) {
    MDB_txn* txn;
    check(mdb_txn_begin(env, nullptr, 0, &txn) == 0, "txn");
    MDB_val k{key.size(), const_cast<char*>(key.data())}, v{value.size(), const_cast<char*>(value.data())};
    check(mdb_put(txn, dbi, &k, &v, 0) == 0, "mdb_put");
    check(mdb_txn_commit(txn) == 0, "commit");  // durable: LMDB syncs on commit by default
  }
};

}  // namespace persist_bench

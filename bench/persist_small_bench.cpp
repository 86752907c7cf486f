// Persistence benchmarks (a) and (c) of persist_bench.cpp: 1,000 refs
// holding small ints, saved whole, saved after one changed, and loaded;
// with their baselines (the same values in a cereal file, a small durable
// LMDB commit, an LMDB commit shaped like the incremental save).
#include <benchmark/benchmark.h>
#include <lmdb.h>

#include <cstdint>
#include <string>
#include <vector>

#include "persist_fixtures.h"

import instadump;

namespace persist_bench {
namespace {

// --- (a) 1,000 small refs -------------------------------------------------------

void save_1000_small_refs(benchmark::State& state, const char* dir, bool durable) {
  small_refs s(1000);
  instadump_session session(dir);
  for (auto _ : state) {
    state.PauseTiming();
    s.change_all();
    state.ResumeTiming();
    instadump::save_all({.durable = durable});
  }
}
void BM_save_1000_small_refs(benchmark::State& state) { save_1000_small_refs(state, "save-small", true); }
BENCHMARK(BM_save_1000_small_refs)->Unit(benchmark::kMicrosecond)->UseRealTime();

// The same save without waiting for stable storage: what the save costs
// besides the final fsync of the meta page.
void BM_save_1000_small_refs_not_durable(benchmark::State& state) {
  save_1000_small_refs(state, "save-small-nd", false);
}
BENCHMARK(BM_save_1000_small_refs_not_durable)->Unit(benchmark::kMicrosecond)->UseRealTime();

// The 1,000 values of (a) saved with cereal to one file; `sync_dir` also
// syncs the directory after the rename.
void cereal_file_1000_values(benchmark::State& state, const char* dir_name, bool sync_dir) {
  std::vector<long> values(1000);
  for (int i = 0; i < 1000; ++i) values[i] = i;
  fs::path file = fresh_dir(dir_name) / "state.bin";
  for (auto _ : state) {
    ++values[0];
    cereal_file_save(file, values);
    if (sync_dir) sync_directory(file.parent_path());
  }
}

void BM_cereal_file_1000_values(benchmark::State& state) { cereal_file_1000_values(state, "cereal-small", false); }
BENCHMARK(BM_cereal_file_1000_values)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Not the baseline, for context: the same file save made durable in
// full, with the directory synced after the rename, as a save_all() is.
void BM_cereal_file_1000_values_dir_synced(benchmark::State& state) {
  cereal_file_1000_values(state, "cereal-small-synced", true);
}
BENCHMARK(BM_cereal_file_1000_values_dir_synced)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_incremental_save_1000_refs_one_changed(benchmark::State& state) {
  small_refs s(1000);
  instadump_session session("save-incremental");
  instadump::save_all();
  for (auto _ : state) {
    state.PauseTiming();
    instadump::dosync([&] { s.refs[0]->alter([](long v) { return v + 1; }); });
    state.ResumeTiming();
    instadump::save_all();
  }
}
BENCHMARK(BM_incremental_save_1000_refs_one_changed)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_small_durable_lmdb_commit(benchmark::State& state) {
  lmdb_db db(fresh_dir("lmdb-empty"));
  long i = 0;
  for (auto _ : state) db.put("k", std::to_string(++i));
}
BENCHMARK(BM_small_durable_lmdb_commit)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Not a baseline a user would write, but the LMDB work an incremental save
// does, without Instadump: the same databases (names of 1,000 values stored),
// the same writes per commit (a small blob and record in, the ones from two
// saves back out, three counters) and the same flushes (MDB_NOMETASYNC, then
// mdb_env_sync). Compared with the incremental save it isolates the
// library's own cost; compared with the small commit, what the store's
// layout costs.
void BM_lmdb_commit_shaped_like_incremental_save(benchmark::State& state) {
  const fs::path dir = fresh_dir("lmdb-shaped");
  MDB_env* env = nullptr;
  check(mdb_env_create(&env) == 0, "mdb_env_create");
  mdb_env_set_mapsize(env, std::size_t{1} << 30);
  mdb_env_set_maxdbs(env, 8);
  check(mdb_env_open(env, dir.c_str(), MDB_NOMETASYNC, 0600) == 0, "mdb_env_open");
  MDB_dbi meta, records, blobs, keys;
  auto id_key = [](std::uint64_t id) {
    std::string k(8, '\0');
    for (int i = 7; i >= 0; --i, id >>= 8) k[i] = static_cast<char>(id & 0xff);
    return k;
  };
  auto put = [](MDB_txn* txn, MDB_dbi dbi, const std::string& key, const std::string& value) {
    MDB_val k{key.size(), const_cast<char*>(key.data())}, v{value.size(), const_cast<char*>(value.data())};
    check(mdb_put(txn, dbi, &k, &v, 0) == 0, "mdb_put");
  };
  auto del = [](MDB_txn* txn, MDB_dbi dbi, const std::string& key) {
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    const int rc = mdb_del(txn, dbi, &k, nullptr);
    check(rc == 0 || rc == MDB_NOTFOUND, "mdb_del");
  };
  MDB_txn* txn;
  check(mdb_txn_begin(env, nullptr, 0, &txn) == 0, "txn");
  check(mdb_dbi_open(txn, "meta", MDB_CREATE, &meta) == 0, "dbi");
  check(mdb_dbi_open(txn, "snapshots", MDB_CREATE, &records) == 0, "dbi");
  check(mdb_dbi_open(txn, "blobs", MDB_CREATE, &blobs) == 0, "dbi");
  check(mdb_dbi_open(txn, "keys", MDB_CREATE, &keys) == 0, "dbi");
  for (int i = 1; i <= 1000; ++i) put(txn, keys, id_key(i), "bench::refs_" + std::to_string(i));
  put(txn, blobs, id_key(1), std::string(24000, 'b'));  // the first, full save
  put(txn, records, id_key(1), std::string(12000, 'r'));
  check(mdb_txn_commit(txn) == 0, "commit");
  const std::string blob(24, 'b'), record(80, 'r');
  std::uint64_t id = 1;
  for (auto _ : state) {
    ++id;
    check(mdb_txn_begin(env, nullptr, 0, &txn) == 0, "txn");
    put(txn, blobs, id_key(id), blob);
    put(txn, records, id_key(id), record);
    if (id > 3) {
      del(txn, blobs, id_key(id - 2));
      del(txn, records, id_key(id - 2));
    }
    put(txn, meta, "next_blob_id", id_key(id + 1));
    put(txn, meta, "next_key_id", id_key(1001));
    put(txn, meta, "oldest_snapshot", id_key(id - 1));
    check(mdb_txn_commit(txn) == 0, "commit");
    check(mdb_env_sync(env, 1) == 0, "mdb_env_sync");
  }
  mdb_env_close(env);
}
BENCHMARK(BM_lmdb_commit_shaped_like_incremental_save)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_load_1000_small_refs(benchmark::State& state) {
  small_refs s(1000);
  instadump_session session("load-small");
  instadump::save_all();
  for (auto _ : state) instadump::reload_all();
}
BENCHMARK(BM_load_1000_small_refs)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
}  // namespace persist_bench

// Replication to PostgreSQL, as ratios measured in one run against a
// PostgreSQL 15 the benchmark starts itself (tests/replication/pg_server.h,
// with fsync on, as a production server has it):
//   a sync-replicated save of 1,000 small refs (all changed) against the
//   local durable save, and against one PostgreSQL transaction inserting
//   the same 1,000 values (the floor of any replication of them);
//   an async-replicated save against the local one (the writer's cost),
//   saving as fast as it goes and saving every 5 ms once the sender has
//   caught up;
//   setup() restoring 1,000 refs, and the 100k-record state (one ref of
//   100,000 products, bench/product.h, with its generated codec: the
//   persist benchmarks' state (b)), from PostgreSQL against setup() loading
//   them from the local store.
// The writer's CPU column is the saving thread's CPU time per save (Google
// Benchmark's default): with async replication the sender thread and
// PostgreSQL share the machine's cores with it, which its wall time shows
// and its CPU time mostly does not.
// bench::products is registered for the whole program: the 1,000-ref
// benchmarks save it too (one more ref, empty and unchanged).
#include <benchmark/benchmark.h>

#include <time.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench_state.h"
#include "pg_server.h"
#include "product.h"
#include "ratio_reporter.h"
#include "replication/pg_connection.h"

import instadump;

namespace bench {
extern instadump::ref<std::vector<product>> products;  // product_state.cpp
}  // namespace bench

namespace {

namespace fs = std::filesystem;

pg_test::pg_server& server() {
  // (pg_stat_statements: what each statement costs inside PostgreSQL, printed
  // at the end with INSTADUMP_BENCH_PG_STATEMENTS=1.)
  static pg_test::pg_server pg(
      {.settings = {"fsync=on", "synchronous_commit=on", "shared_preload_libraries=pg_stat_statements"},
       .conf_lines = {}});
  return pg;
}

// 1,000 refs of small ints, registered at run time.
struct thousand_refs {
  std::vector<std::unique_ptr<instadump::ref<long>>> refs;
  std::vector<std::unique_ptr<instadump::state_registration<long>>> regs;
  thousand_refs() {
    for (int i = 0; i < 1000; ++i) {
      refs.push_back(std::make_unique<instadump::ref<long>>(i));
      regs.push_back(std::make_unique<instadump::state_registration<long>>(
          *refs.back(), "bench::replicated" + std::to_string(i), bench::long_schema, bench::long_codec));
    }
  }
  void change_all() {
    instadump::dosync([&] {
      for (auto& r : refs) r->alter([](long v) { return v + 1; });
    });
  }
};

fs::path scratch(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("instadump-replication-bench-" + std::to_string(getpid())) / name;
  fs::remove_all(p);
  fs::create_directories(p.parent_path());
  return p;
}

instadump::setup_options replicated(const std::string& store, instadump::replication::send_mode mode) {
  instadump::setup_options o;
  o.replicate.url = server().url();
  o.replicate.store = store;
  o.replicate.mode = mode;
  return o;
}

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// With `spaced`, saves are 5 ms apart and each starts once replication has
// caught up (the sender idle, PostgreSQL too), as saves spaced out by an
// autosave interval find them; without, saves follow each other as fast as
// they go.
void save_loop(benchmark::State& state, const fs::path& dir, const instadump::setup_options& o,
               bool spaced = false) {
  thousand_refs s;
  instadump::setup(dir, o);
  double save_cpu = 0;  // the saving thread's, in save_all() alone
  for (auto _ : state) {
    state.PauseTiming();
    s.change_all();
    if (spaced) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      instadump::wait_for_replication(std::chrono::minutes(1));
    }
    state.ResumeTiming();
    const double before = thread_cpu_seconds();
    instadump::save_all();
    save_cpu += thread_cpu_seconds() - before;
  }
  state.counters["writer_cpu_us"] =
      benchmark::Counter(save_cpu * 1e6 / static_cast<double>(state.iterations()));
  instadump::wait_for_replication(std::chrono::minutes(1));
  instadump::shutdown();
}

void BM_local_save_1000_refs(benchmark::State& state) { save_loop(state, scratch("local"), {}); }
BENCHMARK(BM_local_save_1000_refs)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Each call saves into a fresh local store, as the local save does, and so
// into a store of its own in PostgreSQL: reusing the name of an earlier
// call's (Google Benchmark calls these more than once), setup() would
// restore that copy, and a restored store numbers its keys in the copy's
// order (by name), not in the order the states are saved, which costs every
// save a sort of its values (about 50 us of 1,000 here).
std::string fresh_store(const std::string& name) {
  static int calls = 0;
  return name + "-" + std::to_string(++calls);
}

void BM_sync_replicated_save_1000_refs(benchmark::State& state) {
  save_loop(state, scratch("sync"), replicated(fresh_store("bench-sync"), instadump::replication::sync));
}
BENCHMARK(BM_sync_replicated_save_1000_refs)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_async_replicated_save_1000_refs(benchmark::State& state) {
  save_loop(state, scratch("async"), replicated(fresh_store("bench-async"), instadump::replication::async));
}
BENCHMARK(BM_async_replicated_save_1000_refs)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_local_save_1000_refs_spaced(benchmark::State& state) { save_loop(state, scratch("local-spaced"), {}, true); }
BENCHMARK(BM_local_save_1000_refs_spaced)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_async_replicated_save_1000_refs_spaced(benchmark::State& state) {
  save_loop(state, scratch("async-spaced"), replicated(fresh_store("bench-async-spaced"), instadump::replication::async),
            true);
}
BENCHMARK(BM_async_replicated_save_1000_refs_spaced)->Unit(benchmark::kMicrosecond)->UseRealTime();

// The floor: one PostgreSQL commit of the same 1,000 values (a key, a
// 64-bit number and 16 bytes each, as the save ships them), written the
// cheapest way we know -- the way the replication writes its rows: one
// prepared INSERT of the values as binary arrays unnested by the server,
// run on its own (its own transaction: one round trip, one commit), into a
// table with one index, keyed by the number first so that a commit's rows
// land next to each other at the index's right edge (keyed by the key
// first, each row takes a page of its own: 1.6x slower here). What the replicated save
// adds on top of this: its local durable save, working out what changed,
// the fence and snapshot row, the store's name and six more columns.
void BM_postgres_commit_1000_values(benchmark::State& state) {
  using instadump::replication::pg_array;
  using instadump::replication::pg_connection;
  using instadump::replication::pg_params;
  pg_connection conn(server().url(), "baseline");
  // Google Benchmark calls this function more than once (to size the
  // run): each call starts from an empty table, as its seq starts at 1.
  conn.run("SET client_min_messages = warning; "
           "CREATE TABLE IF NOT EXISTS baseline (k text, seq bigint, v bytea, PRIMARY KEY (seq, k)); "
           "TRUNCATE baseline", "create");
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i) keys.push_back("bench::replicated" + std::to_string(i));
  std::vector<std::byte> value(16, std::byte{1});
  std::int64_t seq = 0;
  for (auto _ : state) {
    ++seq;
    pg_array k(pg_array::element::text), v(pg_array::element::bytea);
    for (const auto& key : keys) {
      k.text(key);
      v.bytes(value);
    }
    conn.query_prepared("insert", "INSERT INTO baseline SELECT k, $1, v FROM unnest($2::text[], $3::bytea[]) AS r(k, v)",
                        pg_params().i64(seq).array(k).array(v), "insert");
  }
}
BENCHMARK(BM_postgres_commit_1000_values)->Unit(benchmark::kMicrosecond)->UseRealTime();

// setup() of a directory holding 1,000 refs, and of an empty one restored
// from PostgreSQL.
// Times setup() of `dir`, a local store: a load.
void time_loads(benchmark::State& state, const fs::path& dir) {
  for (auto _ : state) {
    instadump::setup(dir);
    state.PauseTiming();
    instadump::shutdown();
    state.ResumeTiming();
  }
}

void BM_local_load_1000_refs(benchmark::State& state) {
  thousand_refs s;
  const fs::path dir = scratch("load");
  instadump::setup(dir);
  s.change_all();
  instadump::save_all();
  instadump::shutdown();
  time_loads(state, dir);
}
BENCHMARK(BM_local_load_1000_refs)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Times setup() of a fresh directory with replication `o`: a restore from
// the copy (each into a directory of its own, named from `name`).
void time_restores(benchmark::State& state, const instadump::setup_options& o, const std::string& name) {
  int i = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const fs::path dir = scratch(name + "-" + std::to_string(++i));
    state.ResumeTiming();
    instadump::setup(dir, o);
    state.PauseTiming();
    instadump::shutdown();
    fs::remove_all(dir);
    state.ResumeTiming();
  }
}

void BM_restore_1000_refs_from_postgres(benchmark::State& state) {
  thousand_refs s;
  const auto o = replicated("bench-restore", instadump::replication::sync);
  instadump::setup(scratch("restore-source"), o);
  s.change_all();
  instadump::save_all();
  instadump::shutdown();
  time_restores(state, o, "restore");
}
BENCHMARK(BM_restore_1000_refs_from_postgres)->Unit(benchmark::kMicrosecond)->UseRealTime();

// The 100k-record state, filled for one benchmark and emptied after.
struct hundred_thousand_products {
  hundred_thousand_products() {
    instadump::dosync([&] { bench::products.set(bench::make_products(100'000)); });
  }
  ~hundred_thousand_products() {
    instadump::dosync([&] { bench::products.set({}); });
  }
};

void BM_local_load_100k_products(benchmark::State& state) {
  hundred_thousand_products s;
  const fs::path dir = scratch("load-100k");
  instadump::setup(dir);
  instadump::save_all();
  instadump::shutdown();
  time_loads(state, dir);
}
BENCHMARK(BM_local_load_100k_products)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(8);

void BM_restore_100k_products_from_postgres(benchmark::State& state) {
  hundred_thousand_products s;
  const auto o = replicated("bench-restore-100k", instadump::replication::sync);
  instadump::setup(scratch("restore-100k-source"), o);
  instadump::save_all();
  instadump::shutdown();
  time_restores(state, o, "restore-100k");
}
BENCHMARK(BM_restore_100k_products_from_postgres)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(8);

}  // namespace

int main(int argc, char** argv) {
  int rc = instadump_bench::run_with_ratios(
      argc, argv,
      // (Names as Google Benchmark prints them: UseRealTime adds /real_time.)
      {{"BM_sync_replicated_save_1000_refs/real_time", "BM_local_save_1000_refs/real_time"},
       {"BM_sync_replicated_save_1000_refs/real_time", "BM_postgres_commit_1000_values/real_time"},
       {"BM_async_replicated_save_1000_refs/real_time", "BM_local_save_1000_refs/real_time"},
       {"BM_async_replicated_save_1000_refs_spaced/real_time", "BM_local_save_1000_refs_spaced/real_time"},
       {"BM_restore_1000_refs_from_postgres/real_time", "BM_local_load_1000_refs/real_time"},
       {"BM_restore_100k_products_from_postgres/iterations:8/real_time",
        "BM_local_load_100k_products/iterations:8/real_time"}});
  if (std::getenv("INSTADUMP_BENCH_PG_STATEMENTS")) {
    std::printf("\nstatements inside PostgreSQL (calls | mean execution ms | WAL bytes per call | statement):\n%s\n",
                server()
                    .psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements; "
                          "SELECT calls, round(mean_exec_time::numeric, 3), round(wal_bytes / calls), "
                          "left(regexp_replace(query, '\\s+', ' ', 'g'), 100) FROM pg_stat_statements "
                          "WHERE calls > 10 ORDER BY total_exec_time DESC LIMIT 5")
                    .c_str());
  }
  std::error_code ec;
  fs::remove_all(fs::temp_directory_path() / ("instadump-replication-bench-" + std::to_string(getpid())), ec);
  return rc;
}

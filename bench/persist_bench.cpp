// Persistence benchmarks: save and load through Instadump against the
// alternatives a C++ developer would otherwise write, measured in the same run
// (ratios printed at the end; see docs/PERFORMANCE.md).
//
//   (a) 1,000 refs holding small ints
//   (b) one ref holding a std::vector of 100,000 / 1,000,000 products, with
//       the codec instadump-codegen generates (product_state.cpp)
//   (c) (a) after changing one ref (incremental save)
//
// Baselines: a cereal binary archive written to a temporary file + fdatasync
// + rename; SQLite storing the cereal blob in one transaction; LMDB storing
// the cereal blob; and the physical floor (memcpy of as many bytes as
// Instadump writes + write + fdatasync).
#include <benchmark/benchmark.h>
#include <cereal/archives/binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <fcntl.h>
#include <lmdb.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_state.h"
#include "product.h"
#include "ratio_reporter.h"

import instadump;

namespace bench {
extern instadump::ref<std::vector<product>> products;  // product_state.cpp
}  // namespace bench

namespace {

namespace fs = std::filesystem;

fs::path bench_root() {
  static fs::path root = [] {
    std::string pattern = (fs::temp_directory_path() / "instadump-bench-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    return fs::path(pattern);
  }();
  return root;
}

fs::path fresh_dir(const std::string& name) {
  fs::path p = bench_root() / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(what);
}

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

void write_file_durably(const fs::path& path, const char* data, std::size_t size) {
  fs::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  check(fd >= 0, "open");
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::write(fd, data + done, size - done);
    check(n > 0, "write");
    done += static_cast<std::size_t>(n);
  }
  check(::fdatasync(fd) == 0, "fdatasync");
  ::close(fd);
  check(std::rename(tmp.c_str(), path.c_str()) == 0, "rename");
}

// fsync of a directory, which makes a rename inside it survive a power cut
// (the baseline above stops short of it, as most hand-written savers do).
void sync_directory(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  check(fd >= 0, "open (directory)");
  check(::fsync(fd) == 0, "fsync (directory)");
  ::close(fd);
}

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

// --- (b) a vector of products -----------------------------------------------------

void BM_save_products(benchmark::State& state) {
  product_state s(static_cast<std::size_t>(state.range(0)));
  instadump_session session("save-products");
  for (auto _ : state) {
    state.PauseTiming();
    s.touch();
    state.ResumeTiming();
    auto r = instadump::save_all();
    state.counters["MB"] = static_cast<double>(r.bytes_written) / 1e6;
  }
}

void BM_floor_memcpy_write_fdatasync(benchmark::State& state) {
  // As many bytes as Instadump writes for the same state.
  std::size_t bytes;
  {
    product_state s(static_cast<std::size_t>(state.range(0)));
    instadump_session session("floor-measure");
    bytes = instadump::save_all().bytes_written;
  }
  std::vector<char> source(bytes, 'x'), buffer(bytes);
  fs::path file = fresh_dir("floor") / "state.bin";
  for (auto _ : state) {
    std::memcpy(buffer.data(), source.data(), bytes);
    write_file_durably(file, buffer.data(), bytes);
  }
}

void BM_cereal_file_products(benchmark::State& state) {
  auto products = bench::make_products(static_cast<std::size_t>(state.range(0)));
  fs::path file = fresh_dir("cereal-products") / "state.bin";
  for (auto _ : state) {
    products[0].price += 1;
    cereal_file_save(file, products);
  }
}

void BM_sqlite_cereal_blob_products(benchmark::State& state) {
  auto products = bench::make_products(static_cast<std::size_t>(state.range(0)));
  sqlite_db db(fresh_dir("sqlite") / "state.db");
  for (auto _ : state) {
    products[0].price += 1;
    db.put_all({{"bench::products", cereal_bytes(products)}});
  }
}

void BM_lmdb_cereal_blob_products(benchmark::State& state) {
  auto products = bench::make_products(static_cast<std::size_t>(state.range(0)));
  lmdb_db db(fresh_dir("lmdb-cereal"));
  for (auto _ : state) {
    products[0].price += 1;
    db.put("bench::products", cereal_bytes(products));
  }
}

void BM_load_products(benchmark::State& state) {
  product_state s(static_cast<std::size_t>(state.range(0)));
  instadump_session session("load-products");
  instadump::save_all();
  for (auto _ : state) instadump::reload_all();
}

// The vector built from the fields of `source`, as a decoder must at least do.
std::vector<bench::product> build_products(const std::vector<bench::product>& source) {
  std::vector<bench::product> v;
  v.reserve(source.size());
  for (const auto& p : source) {
    bench::product q;
    q.id = p.id;
    q.name.assign(p.name.data(), p.name.size());
    q.price = p.price;
    q.tags.reserve(p.tags.size());
    for (const auto& t : p.tags) q.tags.emplace_back(t.data(), t.size());
    v.push_back(std::move(q));
  }
  return v;
}

void BM_build_products_in_memory(benchmark::State& state) {
  auto source = bench::make_products(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    auto v = build_products(source);
    benchmark::DoNotOptimize(v.data());
  }
}

void BM_build_products_old_alive(benchmark::State& state) {
  // The same, but the vector built last time stays alive while the next one
  // is built, as a load must (the ref keeps its old value until the new one
  // is installed): the new value then lands in fresh memory.
  auto source = bench::make_products(static_cast<std::size_t>(state.range(0)));
  std::vector<bench::product> previous;
  for (auto _ : state) {
    auto v = build_products(source);
    benchmark::DoNotOptimize(v.data());
    previous = std::move(v);
  }
}

void BM_cereal_file_load_products(benchmark::State& state) {
  auto products = bench::make_products(static_cast<std::size_t>(state.range(0)));
  fs::path file = fresh_dir("cereal-load") / "state.bin";
  cereal_file_save(file, products);
  for (auto _ : state) {
    std::ifstream in(file, std::ios::binary);
    cereal::BinaryInputArchive archive(in);
    std::vector<bench::product> v;
    archive(v);
    benchmark::DoNotOptimize(v.data());
  }
}

#define PRODUCT_BENCH(fn) BENCHMARK(fn)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(4)
PRODUCT_BENCH(BM_save_products);
PRODUCT_BENCH(BM_floor_memcpy_write_fdatasync);
PRODUCT_BENCH(BM_cereal_file_products);
PRODUCT_BENCH(BM_sqlite_cereal_blob_products);
PRODUCT_BENCH(BM_lmdb_cereal_blob_products);
PRODUCT_BENCH(BM_load_products);
PRODUCT_BENCH(BM_build_products_in_memory);
PRODUCT_BENCH(BM_build_products_old_alive);
PRODUCT_BENCH(BM_cereal_file_load_products);

// --- measurements that are not timings ------------------------------------------------

long rss_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::atol(line.c_str() + std::strlen(field));
  }
  return -1;
}
void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

void report_extra_measurements() {
  std::printf("\n--- writer throughput while saving, disk use, peak memory ---\n");
  {
    product_state s(100'000);
    instadump::ref<long> counter{0};
    instadump::state_registration<long> reg(counter, "bench::counter", bench::long_schema, bench::long_codec);
    instadump_session session("throughput");
    auto run_writer = [&](std::chrono::milliseconds d) {
      long n = 0;
      auto end = std::chrono::steady_clock::now() + d;
      while (std::chrono::steady_clock::now() < end) {
        for (int i = 0; i < 100; ++i) instadump::dosync([&] { counter.alter([](long v) { return v + 1; }); });
        n += 100;
      }
      return n;
    };
    // The saver thread changes the state (touch: a copy of the vector) and
    // saves, back to back. The baseline does the same changes but sleeps
    // instead of saving, as long as a save takes: what is left is what the
    // saving costs the writer. (On this VM the two cores share resources:
    // the changes alone slow the writer down.) Phases of 250 ms alternate,
    // so that a slow stretch of the host hits all sides; ratios are medians
    // of the rounds.
    enum class mode { idle, saving, sleeping };
    std::atomic<mode> what{mode::idle};
    std::atomic<bool> stop{false};
    std::atomic<long> save_nanos{30'000'000};
    long saves = 0;
    std::thread saver([&] {
      while (!stop) {
        const mode m = what;
        if (m == mode::idle) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
          continue;
        }
        s.touch();
        if (m == mode::saving) {
          auto t0 = std::chrono::steady_clock::now();
          instadump::save_all();
          save_nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
          ++saves;
        } else {
          std::this_thread::sleep_for(std::chrono::nanoseconds(save_nanos.load()));
        }
      }
    });
    auto phase = [&](mode m) {
      what = m;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let it get going
      const double n = static_cast<double>(run_writer(std::chrono::milliseconds(250)));
      what = mode::idle;
      std::this_thread::sleep_for(std::chrono::milliseconds(60));  // let it finish
      return n;
    };
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
    };
    std::vector<double> vs_alone, vs_changes;
    double alone_total = 0, with_total = 0;
    for (int round = 0; round < 6; ++round) {
      const double alone = static_cast<double>(run_writer(std::chrono::milliseconds(250)));
      const double with_changes = phase(mode::sleeping);
      const double with_saves = phase(mode::saving);
      vs_alone.push_back(with_saves / alone);
      vs_changes.push_back(with_saves / with_changes);
      alone_total += alone;
      with_total += with_saves;
    }
    stop = true;
    saver.join();
    std::printf("writer commits/s alone: %.2f M; during back-to-back saves of 100k products (%ld saves): %.2f M; "
                "ratio %.2f to alone, %.2f to the same changes without saving (medians of 6 rounds)\n",
                alone_total / 1.5 / 1e6, saves, with_total / 1.5 / 1e6, median(vs_alone), median(vs_changes));
  }
  {
    product_state s(100'000);
    fs::path dir = fresh_dir("disk-use");
    instadump::setup(dir);
    std::uint64_t encoded = 0;
    for (int i = 0; i < 20; ++i) {
      s.touch();
      encoded = instadump::save_all().bytes_written;
    }
    instadump::shutdown();
    auto file = fs::file_size(dir / "data.mdb");
    std::printf("disk use after 20 saves of 100k products (K = 2): %.1f MB = %.2f x the encoded size (%.1f MB)\n",
                file / 1e6, static_cast<double>(file) / static_cast<double>(encoded), encoded / 1e6);
  }
  {
    product_state s(1'000'000);
    instadump_session session("peak-rss");
    long live = rss_kib("VmRSS:");
    reset_peak_rss();
    auto r = instadump::save_all();
    long peak = rss_kib("VmHWM:");
    std::printf("first save of 1M products: encoded %.1f MB; extra peak RSS %.1f MB (%.2f x encoded)\n",
                r.bytes_written / 1e6, (peak - live) / 1024.0,
                (peak - live) * 1024.0 / static_cast<double>(r.bytes_written));
    // Later saves encode straight into the store's pages.
    s.touch();
    live = rss_kib("VmRSS:");
    reset_peak_rss();
    r = instadump::save_all();
    peak = rss_kib("VmHWM:");
    std::printf("next save of 1M products: extra peak RSS %.1f MB (%.2f x encoded)\n", (peak - live) / 1024.0,
                (peak - live) * 1024.0 / static_cast<double>(r.bytes_written));
    live = rss_kib("VmRSS:");
    reset_peak_rss();
    instadump::reload_all();
    peak = rss_kib("VmHWM:");
    std::printf("load of 1M products: extra peak RSS %.1f MB (%.2f x encoded; the new value itself is one copy of "
                "the live state)\n",
                (peak - live) / 1024.0, (peak - live) * 1024.0 / static_cast<double>(r.bytes_written));
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::pair<std::string, std::string>> pairs = {
      {"BM_save_1000_small_refs/real_time", "BM_cereal_file_1000_values/real_time"},
      {"BM_save_1000_small_refs/real_time", "BM_cereal_file_1000_values_dir_synced/real_time"},
      {"BM_incremental_save_1000_refs_one_changed/real_time", "BM_small_durable_lmdb_commit/real_time"},
      {"BM_incremental_save_1000_refs_one_changed/real_time", "BM_lmdb_commit_shaped_like_incremental_save/real_time"},
      {"BM_lmdb_commit_shaped_like_incremental_save/real_time", "BM_small_durable_lmdb_commit/real_time"},
      {"BM_load_1000_small_refs/real_time", "BM_cereal_file_1000_values/real_time"},
  };
  for (const char* n : {"100000", "1000000"}) {
    std::string s = std::string("/") + n + "/iterations:4/real_time";
    pairs.push_back({"BM_save_products" + s, "BM_floor_memcpy_write_fdatasync" + s});
    pairs.push_back({"BM_save_products" + s, "BM_cereal_file_products" + s});
    pairs.push_back({"BM_save_products" + s, "BM_sqlite_cereal_blob_products" + s});
    pairs.push_back({"BM_save_products" + s, "BM_lmdb_cereal_blob_products" + s});
    pairs.push_back({"BM_load_products" + s, "BM_build_products_in_memory" + s});
    pairs.push_back({"BM_load_products" + s, "BM_build_products_old_alive" + s});
    pairs.push_back({"BM_load_products" + s, "BM_cereal_file_load_products" + s});
  }
  int rc = instadump_bench::run_with_ratios(argc, argv, pairs);
  if (!std::getenv("INSTADUMP_BENCH_SKIP_EXTRA")) report_extra_measurements();
  std::error_code ec;
  fs::remove_all(bench_root(), ec);
  return rc;
}

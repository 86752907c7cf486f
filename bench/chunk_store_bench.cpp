// Chunked saves at the storage level (issue 22, part B), with a tree of
// chunks built directly (tests/storage/chunk_tree.h: 30,000 leaves of 128
// bytes under 3 levels of branches, like a persistent map's nodes): the
// first save of the whole tree against one value of the same size, and a
// save after one leaf changed (journaled, and written directly into
// data.mdb) against an empty durable LMDB commit
// (BM_small_durable_lmdb_commit). Each reports the bytes the process wrote
// per save (/proc/self/io wchar: LMDB's pages, the journal, and the journal's
// background writes into data.mdb) and the chunks written per save.
#include <benchmark/benchmark.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>

#include "../tests/storage/chunk_tree.h"
#include "storage/snapshot_store.h"

namespace {

namespace fs = std::filesystem;
using instadump::storage::snapshot_delta;
using instadump::storage::snapshot_store;
using instadump::storage::store_options;

constexpr std::size_t kLeaves = 30000;
constexpr std::size_t kFanout = 32;
constexpr std::size_t kLeafWords = 16;

// A fresh directory for one store, removed with the object.
struct scratch {
  fs::path dir;
  scratch() {
    std::string templ = (fs::temp_directory_path() / "instadump-chunk-bench-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir = templ;
  }
  ~scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

std::uint64_t bytes_written_so_far() {
  std::ifstream io("/proc/self/io");
  std::string name;
  std::uint64_t value = 0;
  while (io >> name >> value) {
    if (name == "wchar:") return value;
  }
  return 0;
}

std::size_t tree_bytes() {
  storage_test::chunk_tree t(kLeaves, kFanout, kLeafWords);
  std::size_t bytes = 0;
  for (const auto& c : t.delta(1).chunks) bytes += c.bytes.size();
  return bytes;
}

void BM_chunked_first_save_30000_leaves(benchmark::State& state) {
  std::uint64_t written = 0, chunks = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto dir = std::make_unique<scratch>();
    auto store = snapshot_store::open(dir->dir, {});
    storage_test::chunk_tree t(kLeaves, kFanout, kLeafWords);
    const snapshot_delta d = t.delta(store->next_chunk_id());
    chunks += d.chunks.size();
    const std::uint64_t before = bytes_written_so_far();
    state.ResumeTiming();
    store->write_snapshot(0, d, true);
    state.PauseTiming();
    written += bytes_written_so_far() - before;
    store.reset();
    dir.reset();
    state.ResumeTiming();
  }
  state.counters["bytes_written_per_save"] = static_cast<double>(written) / static_cast<double>(state.iterations());
  state.counters["chunks_per_save"] = static_cast<double>(chunks) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_chunked_first_save_30000_leaves)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

// The baseline: one value as large as the whole tree, saved the same way.
void BM_one_value_as_large_as_the_tree(benchmark::State& state) {
  const std::size_t size = tree_bytes();
  const std::vector<std::byte> bytes(size, std::byte{7});
  std::uint64_t written = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto dir = std::make_unique<scratch>();
    auto store = snapshot_store::open(dir->dir, {});
    snapshot_delta d;
    instadump::storage::new_value v;
    v.key = "tree";
    v.size_bytes = size;
    v.bytes = bytes;
    d.put.push_back(std::move(v));
    const std::uint64_t before = bytes_written_so_far();
    state.ResumeTiming();
    store->write_snapshot(0, d, true);
    state.PauseTiming();
    written += bytes_written_so_far() - before;
    store.reset();
    dir.reset();
    state.ResumeTiming();
  }
  state.counters["bytes_written_per_save"] = static_cast<double>(written) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_one_value_as_large_as_the_tree)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

// Saves after one leaf changed, on a store holding the tree (keeping 2
// snapshots, so each save also reclaims the chunks the one before replaced).
void save_one_leaf_changed(benchmark::State& state, bool journal) {
  scratch dir;
  store_options options;
  options.journal = journal;
  auto store = snapshot_store::open(dir.dir, options);
  storage_test::chunk_tree t(kLeaves, kFanout, kLeafWords);
  std::uint64_t newest = store->write_snapshot(0, t.delta(store->next_chunk_id()), true).id;
  store->flush_journal();
  std::mt19937_64 rng(42);
  std::uint64_t chunks = 0, seed = 1u << 30;
  const std::uint64_t before = bytes_written_so_far();
  for (auto _ : state) {
    t.change_leaf(rng() % kLeaves, ++seed);
    const snapshot_delta d = t.delta(store->next_chunk_id());
    chunks += d.chunks.size();
    newest = store->write_snapshot(newest, d, true).id;
  }
  store->flush_journal();  // (its writes count: they are the saves')
  const std::uint64_t written = bytes_written_so_far() - before;
  state.counters["bytes_written_per_save"] = static_cast<double>(written) / static_cast<double>(state.iterations());
  state.counters["chunks_per_save"] = static_cast<double>(chunks) / static_cast<double>(state.iterations());
}

void BM_chunked_save_one_leaf_changed(benchmark::State& state) { save_one_leaf_changed(state, true); }
BENCHMARK(BM_chunked_save_one_leaf_changed)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_chunked_save_one_leaf_changed_direct(benchmark::State& state) { save_one_leaf_changed(state, false); }
BENCHMARK(BM_chunked_save_one_leaf_changed_direct)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

// What reading the journal costs a read-only open (issue 23): one read --
// newest(), then read_snapshot() of it -- of a snapshot of 100 small values,
// against the same read of the same data.mdb with no journal.log (what a
// read-only read cost before it looked at the journal): with a journal of
// 4 MiB that holds only frames already in data.mdb (the usual state beside
// a writer between saves), and with 50 snapshots still journaled (a writer
// killed, or saving faster than it moves them into data.mdb). The stores
// are written by forked children (LMDB opens a store once per process).
#include <benchmark/benchmark.h>

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "storage/snapshot_store.h"
#include "storage/test_hooks.h"

namespace {

namespace fs = std::filesystem;
using instadump::storage::new_value;
using instadump::storage::snapshot_delta;
using instadump::storage::snapshot_store;
using instadump::storage::store_options;

constexpr int kValues = 100;

snapshot_delta values_of(std::uint64_t seed, int first, int count) {
  static std::vector<std::string> keys = [] {
    std::vector<std::string> k;
    for (int i = 0; i < kValues; ++i) k.push_back("value" + std::to_string(i));
    return k;
  }();
  snapshot_delta d;
  for (int i = first; i < first + count; ++i) {
    new_value v;
    v.key = keys[static_cast<std::size_t>(i)];
    v.schema = {7, 1};
    v.size_bytes = 64;
    v.fill = [seed, i](std::span<std::byte> out) {
      for (std::size_t b = 0; b < out.size(); ++b) out[b] = static_cast<std::byte>(seed * 31 + static_cast<std::uint64_t>(i) + b);
    };
    d.put.push_back(std::move(v));
  }
  return d;
}

// Runs `body` in a forked child and waits for it; throws when it fails.
void in_child(const std::function<void()>& body) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    try {
      body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
      ::_exit(1);
    }
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("the writing child failed");
}

// Three stores with the same snapshots: `stale` (a journal of frames all in
// data.mdb), `none` (its data.mdb without journal.log) and `pending` (50
// more snapshots in the journal only).
struct stores {
  fs::path root;
  fs::path stale, none, pending;

  stores() {
    std::string templ = (fs::temp_directory_path() / "instadump-ro-bench-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    root = templ;
    stale = root / "stale";
    none = root / "none";
    pending = root / "pending";
    in_child([&] {
      auto store = snapshot_store::open(stale, {});
      std::uint64_t id = store->write_snapshot(0, values_of(0, 0, kValues), true).id;
      // Snapshots of one changed value each until the journal has filled.
      for (std::uint64_t i = 1; i <= 20000; ++i) id = store->write_snapshot(id, values_of(i, static_cast<int>(i % kValues), 1), false).id;
    });  // (closed: everything is in data.mdb, the frames stay in the file)
    fs::create_directories(none);
    fs::copy_file(stale / "data.mdb", none / "data.mdb");
    fs::create_directories(pending);
    fs::copy_file(stale / "data.mdb", pending / "data.mdb");
    in_child([&] {
      instadump::storage::testing::hold_journal_applier(true);
      auto store = snapshot_store::open(pending, {});
      std::uint64_t id = store->newest()->id;
      for (std::uint64_t i = 1; i <= 50; ++i) id = store->write_snapshot(id, values_of(100000 + i, static_cast<int>(i), 1), true).id;
      ::_exit(0);  // killed, in effect: the 50 stay in the journal only
    });
  }
  ~stores() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

stores& the_stores() {
  static stores s;
  return s;
}

void read_newest(benchmark::State& state, const fs::path& dir) {
  store_options ro;
  ro.read_only = true;
  auto store = snapshot_store::open(dir, ro);
  std::uint64_t bytes = 0;
  for (auto _ : state) {
    const auto newest = store->newest();
    store->read_snapshot(newest->id, [&](const instadump::storage::entry_info&, kj::ArrayPtr<const capnp::word> w) {
      bytes += w.size();
    });
  }
  benchmark::DoNotOptimize(bytes);
  state.counters["journaled"] = static_cast<double>(store->stats().journaled_snapshots);
  state.counters["journal_bytes"] =
      static_cast<double>(fs::exists(dir / "journal.log") ? fs::file_size(dir / "journal.log") : 0);
}

void BM_read_only_read_no_journal(benchmark::State& state) { read_newest(state, the_stores().none); }
void BM_read_only_read_settled_journal(benchmark::State& state) { read_newest(state, the_stores().stale); }
void BM_read_only_read_50_journaled(benchmark::State& state) { read_newest(state, the_stores().pending); }

BENCHMARK(BM_read_only_read_no_journal)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_read_only_read_settled_journal)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_read_only_read_50_journaled)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

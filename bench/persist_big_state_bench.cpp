// Persistence benchmarks (d) of persist_bench.cpp, issue 22's "big state":
// 1,000,000 records {int64, double, string} keyed by int64 in a
// ref<pmap> against the same records in a ref<std::map>. Saved as one value
// each (the collections' whole-value encoding, which a std::map shares):
// the first full save, the save after one entry changed, and the load in a
// fresh setup, with their baselines (the std::map state's save and load, an
// empty durable LMDB commit, building the std::map in memory), and the saves
// after 1 / 1,000 / 100,000 entries changed against the full save. And the
// same records in a ref<pvector>: the save after one set(i, x) or one
// push_back, against an empty durable LMDB commit; as a pmap member of a
// struct state: its first save, and the save after one record changed; and
// nested, 1,000 pmaps of 1,000 in a pmap: the same two saves.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "big_state.h"
#include "persist_fixtures.h"

import instadump;

namespace bench {
extern instadump::ref<instadump::pmap<std::int64_t, record>> records;  // big_state.cpp
extern instadump::ref<std::map<std::int64_t, record>> std_records;
extern instadump::ref<instadump::pvector<record>> record_list;
extern instadump::ref<world> world_state;
extern instadump::ref<instadump::pmap<std::int64_t, instadump::pmap<std::int64_t, record>>> record_groups;
}  // namespace bench

namespace persist_bench {
namespace {

using record_map = instadump::pmap<std::int64_t, bench::record>;
using record_vector = instadump::pvector<bench::record>;
using record_groups = instadump::pmap<std::int64_t, record_map>;

// Records first .. first + n - 1, keyed by their ids.
record_map make_record_map_from(std::int64_t first, std::int64_t n) {
  auto t = record_map().transient();
  for (std::int64_t i = first; i < first + n; ++i) t.set(i, bench::make_record(i));
  return std::move(t).persistent();
}

record_map make_record_map(std::int64_t n) { return make_record_map_from(0, n); }

record_vector make_record_vector(std::int64_t n) {
  auto t = record_vector().transient();
  for (std::int64_t i = 0; i < n; ++i) t.push_back(bench::make_record(i));
  return std::move(t).persistent();
}

std::map<std::int64_t, bench::record> make_std_map(std::int64_t n) {
  std::map<std::int64_t, bench::record> m;
  for (std::int64_t i = 0; i < n; ++i) m.emplace_hint(m.end(), i, bench::make_record(i));
  return m;
}

// Fills one of the two states for a benchmark and empties it afterwards.
template <class T>
struct filled {
  instadump::ref<T>& ref;
  filled(instadump::ref<T>& r, T value) : ref(r) {
    instadump::dosync([&] { ref.set(std::move(value)); });
  }
  ~filled() {
    instadump::dosync([&] { ref.set(T{}); });
  }
};

// Times one save_all() per iteration, each into a new store: the first,
// full save of the states filled.
void time_first_saves(benchmark::State& state, const char* store_name) {
  for (auto _ : state) {
    state.PauseTiming();
    instadump_session session(store_name);
    state.ResumeTiming();
    auto r = instadump::save_all();
    state.counters["MB"] = static_cast<double>(r.bytes_written) / 1e6;
  }
}

void BM_big_pmap_first_save(benchmark::State& state) {
  filled<record_map> s(bench::records, make_record_map(state.range(0)));
  time_first_saves(state, "big-pmap-first");
}

void BM_big_std_map_first_save(benchmark::State& state) {
  filled<std::map<std::int64_t, bench::record>> s(bench::std_records, make_std_map(state.range(0)));
  time_first_saves(state, "big-std-map-first");
}

void BM_big_pmap_save_one_changed(benchmark::State& state) {
  filled<record_map> s(bench::records, make_record_map(state.range(0)));
  instadump_session session("big-pmap-one");
  instadump::save_all();
  std::int64_t k = 0;
  for (auto _ : state) {
    state.PauseTiming();
    k = (k + 7919) % state.range(0);
    instadump::dosync([&] { bench::records.alter([&](const record_map& m) { return m.set(k, bench::make_record(-k)); }); });
    state.ResumeTiming();
    auto r = instadump::save_all();
    state.counters["MB"] = static_cast<double>(r.bytes_written) / 1e6;
  }
}

// The records as a member of a struct state: a save after one record and
// the struct's other members changed (against an empty durable commit, as
// the pmap state's), and the first save (against the pmap state's).
void BM_big_member_first_save(benchmark::State& state) {
  filled<bench::world> s(bench::world_state, bench::world{1, "world", make_record_map(state.range(0))});
  time_first_saves(state, "big-member-first");
}

void BM_big_member_save_one_changed(benchmark::State& state) {
  filled<bench::world> s(bench::world_state, bench::world{1, "world", make_record_map(state.range(0))});
  instadump_session session("big-member-one");
  instadump::save_all();
  std::int64_t k = 0;
  for (auto _ : state) {
    state.PauseTiming();
    k = (k + 7919) % state.range(0);
    instadump::dosync([&] {
      bench::world_state.alter([&](const bench::world& w) {
        bench::world next = w;
        next.tick = w.tick + 1;
        next.records = w.records.set(k, bench::make_record(-k));
        return next;
      });
    });
    state.ResumeTiming();
    auto r = instadump::save_all();
    state.counters["MB"] = static_cast<double>(r.bytes_written) / 1e6;
  }
}

// Changes `changed` entries of the records map: at random keys, or a run of
// keys from `run_start` (which moves on). Not timed.
struct record_changes {
  std::int64_t n;
  std::uint64_t lcg = 12345;
  std::int64_t run_start = 0;
  std::int64_t round = 0;

  // `m` with the changes.
  record_map changed_map(const record_map& m, std::int64_t changed, bool clustered) {
    ++round;
    auto t = m.transient();
    for (std::int64_t i = 0; i < changed; ++i) {
      std::int64_t k;
      if (clustered) {
        k = (run_start + i) % n;
      } else {
        lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
        k = static_cast<std::int64_t>((lcg >> 17) % static_cast<std::uint64_t>(n));
      }
      t.set(k, bench::make_record(k + round * n));
    }
    run_start = (run_start + changed + 7919) % n;
    return std::move(t).persistent();
  }
  // Changes the records state.
  void apply(std::int64_t changed, bool clustered) {
    instadump::dosync([&] {
      bench::records.alter([&](const record_map& m) { return changed_map(m, changed, clustered); });
    });
  }
  // Changes the world state's records member, and its tick.
  void apply_to_member(std::int64_t changed) {
    instadump::dosync([&] {
      bench::world_state.alter([&](const bench::world& w) {
        bench::world next = w;
        next.tick = w.tick + 1;
        next.records = changed_map(w.records, changed, false);
        return next;
      });
    });
  }
};

// The records as a member of a struct state, state.range(1) of them
// changed at random keys before each save: saved as deltas, as the pmap
// state's (BM_big_pmap_save_changed), against the member's first save.
void BM_big_member_save_changed(benchmark::State& state) {
  record_changes changes{state.range(0)};
  filled<bench::world> s(bench::world_state, bench::world{1, "world", make_record_map(changes.n)});
  instadump_session session("big-member-changed");
  instadump::save_all();
  for (auto _ : state) {
    state.PauseTiming();
    changes.apply_to_member(state.range(1));
    state.ResumeTiming();
    auto r = instadump::save_all();
    state.counters["KB"] = static_cast<double>(r.bytes_written) / 1e3;
    state.counters["chunks"] = static_cast<double>(r.chunks_written);
  }
}

// Saves after state.range(1) entries changed, spread over the map (random
// keys: each change likely in a leaf of its own, the worst case for a save
// node by node) or, with range(2) == 1, next to each other (a run of keys).
// Both are saved as deltas (the changed entries) on the first save's tree:
// these runs stay within the deltas' bounds (BM_big_pmap_save_changed_folding
// includes the folds). Compared with the full save (BM_big_pmap_first_save):
// the target is <= 1.5x the changed share of it.
void BM_big_pmap_save_changed(benchmark::State& state) {
  record_changes changes{state.range(0)};
  filled<record_map> s(bench::records, make_record_map(changes.n));
  instadump_session session("big-pmap-changed");
  instadump::save_all();
  for (auto _ : state) {
    state.PauseTiming();
    changes.apply(state.range(1), state.range(2) == 1);
    state.ResumeTiming();
    auto r = instadump::save_all();
    state.counters["KB"] = static_cast<double>(r.bytes_written) / 1e3;
    state.counters["chunks"] = static_cast<double>(r.chunks_written);
  }
}

// The same at random keys, over enough saves that the deltas reach their
// bounds and saves fold them into a new tree: the mean cost per save, folds
// included.
void BM_big_pmap_save_changed_folding(benchmark::State& state) {
  record_changes changes{state.range(0)};
  filled<record_map> s(bench::records, make_record_map(changes.n));
  instadump_session session("big-pmap-folding");
  instadump::save_all();
  double kb = 0, folds = 0;
  for (auto _ : state) {
    state.PauseTiming();
    changes.apply(state.range(1), false);
    state.ResumeTiming();
    auto r = instadump::save_all();
    kb += static_cast<double>(r.bytes_written) / 1e3;
    folds += r.chunks_written > 3 ? 1 : 0;
  }
  state.counters["KB"] = kb / static_cast<double>(state.iterations());
  state.counters["folds"] = folds;
}

// The load of the map after saves of deltas: the tree, then the deltas'
// entries applied (state.range(1) saves of state.range(2) random changes).
void BM_big_pmap_load_after_deltas(benchmark::State& state) {
  record_changes changes{state.range(0)};
  filled<record_map> s(bench::records, make_record_map(changes.n));
  instadump_session session("big-pmap-load-deltas");
  instadump::save_all();
  for (std::int64_t i = 0; i < state.range(1); ++i) {
    changes.apply(state.range(2), false);
    instadump::save_all();
  }
  for (auto _ : state) instadump::reload_all();
}

// The save after one change of a pvector of state.range(0) records: with
// range(1) == 0 a set(i, x) at a random index (its leaf and the trie's path
// to it are written), with range(1) == 1 a push_back (the tail; every 32nd
// one also the new path of the trie it moves into). Compared with an empty
// durable commit: the target of issue 22 is <= 2x and <= 64 KiB written.
void BM_big_pvector_save_one_changed(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  const bool push_back = state.range(1) == 1;
  filled<record_vector> s(bench::record_list, make_record_vector(n));
  instadump_session session("big-pvector-one");
  instadump::save_all();
  std::uint64_t lcg = 12345;
  std::int64_t pushed = 0;
  double kb = 0;
  double chunks = 0;
  for (auto _ : state) {
    state.PauseTiming();
    instadump::dosync([&] {
      bench::record_list.alter([&](const record_vector& v) {
        if (push_back) return v.push_back(bench::make_record(n + pushed++));
        lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
        const std::int64_t i = static_cast<std::int64_t>((lcg >> 17) % static_cast<std::uint64_t>(n));
        return v.set(static_cast<std::size_t>(i), bench::make_record(-i));
      });
    });
    state.ResumeTiming();
    auto r = instadump::save_all();
    kb += static_cast<double>(r.bytes_written) / 1e3;
    chunks += static_cast<double>(r.chunks_written);
  }
  // Means over the saves (a push_back's save writes more every 32nd time).
  state.counters["KB"] = kb / static_cast<double>(state.iterations());
  state.counters["chunks"] = chunks / static_cast<double>(state.iterations());
}

void BM_big_pmap_load(benchmark::State& state) {
  filled<record_map> s(bench::records, make_record_map(state.range(0)));
  instadump_session session("big-pmap-load");
  instadump::save_all();
  for (auto _ : state) instadump::reload_all();
}

// A map of 1,000 maps of 1,000 records (the same 1M records, nested): the
// first save, and the save after one record of one inner map changed,
// against an empty durable commit and that first save. The inner maps are
// stored inside their outer entries; the outer map saves deltas (its tree
// is big in bytes), so a change writes the inner map it is in.
record_groups make_record_groups(std::int64_t n) {
  const std::int64_t per_group = 1000;
  auto t = record_groups().transient();
  for (std::int64_t g = 0; g * per_group < n; ++g) t.set(g, make_record_map_from(g * per_group, per_group));
  return std::move(t).persistent();
}

void BM_big_nested_first_save(benchmark::State& state) {
  filled<record_groups> s(bench::record_groups, make_record_groups(state.range(0)));
  time_first_saves(state, "big-nested-first");
}

void BM_big_nested_save_one_changed(benchmark::State& state) {
  filled<record_groups> s(bench::record_groups, make_record_groups(state.range(0)));
  instadump_session session("big-nested-one");
  instadump::save_all();
  std::vector<double> saves;  // each save's milliseconds
  std::int64_t k = 0;
  for (auto _ : state) {
    state.PauseTiming();
    k = (k + 7919) % state.range(0);
    instadump::dosync([&] {
      bench::record_groups.alter([&](const record_groups& m) {
        return m.update(k / 1000, [&](const record_map& g) { return g.set(k, bench::make_record(-k)); });
      });
    });
    state.ResumeTiming();
    const auto start = std::chrono::steady_clock::now();
    auto r = instadump::save_all();
    saves.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    state.counters["KB"] = static_cast<double>(r.bytes_written) / 1e3;
    state.counters["chunks"] = static_cast<double>(r.chunks_written);
  }
  // The mean includes the fold after 64 deltas, which rewrites every leaf
  // group the deltas touched: the median is a delta's cost.
  std::sort(saves.begin(), saves.end());
  state.counters["median_ms"] = saves[saves.size() / 2];
  state.counters["slowest_ms"] = saves.back();
}

void BM_big_std_map_load(benchmark::State& state) {
  filled<std::map<std::int64_t, bench::record>> s(bench::std_records, make_std_map(state.range(0)));
  instadump_session session("big-std-map-load");
  instadump::save_all();
  for (auto _ : state) instadump::reload_all();
}

void BM_big_std_map_build_in_memory(benchmark::State& state) {
  for (auto _ : state) {
    auto m = make_std_map(state.range(0));
    benchmark::DoNotOptimize(m.size());
  }
}

#define BIG_STATE_BENCH(fn) BENCHMARK(fn)->Arg(1'000'000)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(4)
BIG_STATE_BENCH(BM_big_pmap_first_save);
BIG_STATE_BENCH(BM_big_std_map_first_save);
BIG_STATE_BENCH(BM_big_pmap_save_one_changed);
BIG_STATE_BENCH(BM_big_member_first_save);
BENCHMARK(BM_big_member_save_one_changed)->Arg(1'000'000)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(100);
BIG_STATE_BENCH(BM_big_nested_first_save);
BENCHMARK(BM_big_nested_save_one_changed)->Arg(1'000'000)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(100);
BENCHMARK(BM_big_member_save_changed)
    ->ArgNames({"entries", "changed"})
    ->Args({1'000'000, 1'000})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(20);
// More saves for fewer changes: the first saves after the full one pay for
// its pages still being flushed; a hundred saves show the steady cost.
#define SAVE_CHANGED_BENCH(changed, iterations)                               \
  BENCHMARK(BM_big_pmap_save_changed)                                        \
      ->ArgNames({"entries", "changed", "clustered"})                        \
      ->Args({1'000'000, changed, 0})                                        \
      ->Args({1'000'000, changed, 1})                                        \
      ->Unit(benchmark::kMillisecond)                                        \
      ->UseRealTime()                                                        \
      ->Iterations(iterations)
SAVE_CHANGED_BENCH(1, 100);
SAVE_CHANGED_BENCH(1'000, 20);
SAVE_CHANGED_BENCH(100'000, 4);
#define SAVE_FOLDING_BENCH(changed, iterations) \
  BENCHMARK(BM_big_pmap_save_changed_folding)    \
      ->ArgNames({"entries", "changed"})         \
      ->Args({1'000'000, changed})               \
      ->Unit(benchmark::kMillisecond)            \
      ->UseRealTime()                            \
      ->Iterations(iterations)
SAVE_FOLDING_BENCH(1'000, 200);  // 64 deltas, then a fold: 3 folds
SAVE_FOLDING_BENCH(100'000, 12);  // ~5 deltas (half the map), then a fold: 2 folds
BENCHMARK(BM_big_pvector_save_one_changed)
    ->ArgNames({"elements", "push_back"})
    ->Args({1'000'000, 0})
    ->Args({1'000'000, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(100);
BIG_STATE_BENCH(BM_big_pmap_load);
BIG_STATE_BENCH(BM_big_std_map_load);
BENCHMARK(BM_big_pmap_load_after_deltas)
    ->ArgNames({"entries", "saves", "changed"})
    ->Args({1'000'000, 10, 10'000})
    ->Args({1'000'000, 4, 100'000})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(4);
BIG_STATE_BENCH(BM_big_std_map_build_in_memory);

}  // namespace
}  // namespace persist_bench

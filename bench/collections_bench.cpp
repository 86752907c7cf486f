// Persistent collections against the standard containers, on the state of
// issue 22: 1,000,000 records {int64, double, string} keyed by int64, with
// short names (kept inline by std::string). Each benchmark is printed with
// its ratio to a baseline measured in the same run; memory is counted
// before the benchmarks run (bytes malloc has handed out, mallinfo2, before
// and after building each container).
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "ratio_reporter.h"

import instadump;

namespace {

struct record {
  std::int64_t id = 0;
  double score = 0;
  std::string name;
};

using pmap_t = instadump::pmap<std::int64_t, record>;
using std_map_t = std::map<std::int64_t, record>;
constexpr std::int64_t records = 1'000'000;
constexpr std::size_t key_count = 1 << 16;  // random keys, used in turn
// The /1 variants of the one-entry benchmarks use 64 of them: the path to
// those entries stays in the cache, so they show what a change costs
// without cache misses; /0 (all keys) is the realistic, cache-cold case.
std::size_t keys_used(const benchmark::State& st) { return st.range(0) ? 64 : key_count; }

record make_record(std::int64_t id) { return record{id, static_cast<double>(id) * 0.5, "user_" + std::to_string(id)}; }

std::vector<std::int64_t> random_keys(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::int64_t> keys(key_count);
  for (auto& k : keys) k = static_cast<std::int64_t>(rng() % records);
  return keys;
}

// The state, built once: a std::map, a pmap of the same records (built
// bottom-up, as a load would), and refs holding each.
struct state {
  std_map_t std_map;
  pmap_t pmap;
  std::vector<std::int64_t> keys = random_keys(1);
  instadump::ref<pmap_t> pmap_ref;
  instadump::ref<std_map_t> std_map_ref;
  std::mutex mu;  // guards std_map for the in-place baseline

  state() {
    for (std::int64_t k = 0; k < records; ++k) std_map.emplace(k, make_record(k));
    pmap = pmap_t::from_sorted(std_map.begin(), std_map.end());
    instadump::dosync([&] {
      pmap_ref.set(pmap);
      std_map_ref.set(std_map);
    });
  }
};
state& the_state() {
  static state s;
  return s;
}

// --- one entry changed ------------------------------------------------------

void BM_alter_pmap_set(benchmark::State& st) {
  state& s = the_state();
  std::size_t i = 0, n = keys_used(st);
  for (auto _ : st) {
    std::int64_t k = s.keys[i++ % n];
    instadump::dosync([&] { s.pmap_ref.alter([&](const pmap_t& m) { return m.set(k, make_record(k)); }); });
  }
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_alter_pmap_set)->Arg(0)->Arg(1);

void BM_alter_std_map_copy(benchmark::State& st) {
  state& s = the_state();
  std::size_t i = 0;
  for (auto _ : st) {
    std::int64_t k = s.keys[i++ % key_count];
    instadump::dosync([&] {
      s.std_map_ref.alter([&](const std_map_t& m) {
        std_map_t next = m;
        next[k] = make_record(k);
        return next;
      });
    });
  }
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_alter_std_map_copy)->Unit(benchmark::kMillisecond);

void BM_std_map_in_place_under_mutex(benchmark::State& st) {
  state& s = the_state();
  std::size_t i = 0, n = keys_used(st);
  for (auto _ : st) {
    std::int64_t k = s.keys[i++ % n];
    std::lock_guard<std::mutex> lock(s.mu);
    s.std_map[k] = make_record(k);
  }
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_std_map_in_place_under_mutex)->Arg(0)->Arg(1);

// --- lookups and iteration --------------------------------------------------

void BM_find_pmap(benchmark::State& st) {
  state& s = the_state();
  std::size_t i = 0;
  for (auto _ : st) benchmark::DoNotOptimize(s.pmap.find(s.keys[i++ % key_count])->score);
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_find_pmap);

void BM_find_std_map(benchmark::State& st) {
  state& s = the_state();
  std::size_t i = 0;
  for (auto _ : st) benchmark::DoNotOptimize(s.std_map.find(s.keys[i++ % key_count])->second.score);
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_find_std_map);

void BM_iterate_pmap(benchmark::State& st) {
  state& s = the_state();
  for (auto _ : st) {
    double sum = 0;
    for (const auto& [k, r] : s.pmap) sum += r.score;
    benchmark::DoNotOptimize(sum);
  }
  st.SetItemsProcessed(st.iterations() * records);
}
BENCHMARK(BM_iterate_pmap)->Unit(benchmark::kMillisecond);

void BM_iterate_std_map(benchmark::State& st) {
  state& s = the_state();
  for (auto _ : st) {
    double sum = 0;
    for (const auto& [k, r] : s.std_map) sum += r.score;
    benchmark::DoNotOptimize(sum);
  }
  st.SetItemsProcessed(st.iterations() * records);
}
BENCHMARK(BM_iterate_std_map)->Unit(benchmark::kMillisecond);

// --- building 1M entries ------------------------------------------------------

std::vector<std::int64_t> shuffled_ids() {
  std::vector<std::int64_t> ids(records);
  for (std::int64_t k = 0; k < records; ++k) ids[k] = k;
  std::shuffle(ids.begin(), ids.end(), std::mt19937_64(2));
  return ids;
}

void BM_build_pmap_transient(benchmark::State& st) {
  static const std::vector<std::int64_t> ids = shuffled_ids();
  for (auto _ : st) {
    auto t = pmap_t().transient();
    for (std::int64_t k : ids) t.set(k, make_record(k));
    pmap_t m = std::move(t).persistent();
    benchmark::DoNotOptimize(m.size());
  }
  st.SetItemsProcessed(st.iterations() * records);
}
BENCHMARK(BM_build_pmap_transient)->Unit(benchmark::kMillisecond);

void BM_build_std_map(benchmark::State& st) {
  static const std::vector<std::int64_t> ids = shuffled_ids();
  for (auto _ : st) {
    std_map_t m;
    for (std::int64_t k : ids) m.insert_or_assign(k, make_record(k));
    benchmark::DoNotOptimize(m.size());
  }
  st.SetItemsProcessed(st.iterations() * records);
}
BENCHMARK(BM_build_std_map)->Unit(benchmark::kMillisecond);

void BM_build_pmap_from_sorted(benchmark::State& st) {
  state& s = the_state();
  for (auto _ : st) benchmark::DoNotOptimize(pmap_t::from_sorted(s.std_map.begin(), s.std_map.end()).size());
  st.SetItemsProcessed(st.iterations() * records);
}
BENCHMARK(BM_build_pmap_from_sorted)->Unit(benchmark::kMillisecond);

void BM_copy_std_map(benchmark::State& st) {
  state& s = the_state();
  for (auto _ : st) benchmark::DoNotOptimize(std_map_t(s.std_map).size());
  st.SetItemsProcessed(st.iterations() * records);
}
BENCHMARK(BM_copy_std_map)->Unit(benchmark::kMillisecond);

// --- two threads changing different keys of one ref -------------------------

void two_threads(benchmark::State& st, bool commute) {
  state& s = the_state();
  if (st.thread_index() == 0) s.pmap_ref.reset_stats();
  std::vector<std::int64_t> keys = random_keys(10 + st.thread_index());
  std::size_t i = 0;
  for (auto _ : st) {
    std::int64_t k = keys[i++ % key_count];
    auto change = [k](const pmap_t& m) { return m.update(k, [k](const record& r) { return record{k, r.score + 1, r.name}; }); };
    if (commute) {
      instadump::dosync([&] { s.pmap_ref.commute(change); });
    } else {
      instadump::dosync([&] { s.pmap_ref.alter(change); });
    }
  }
  st.SetItemsProcessed(st.iterations());
  if (st.thread_index() == 0) {
    auto stats = s.pmap_ref.stats();
    st.counters["retries_per_commit"] =
        stats.commits ? static_cast<double>(stats.conflicts) / static_cast<double>(stats.commits) : 0.0;
  }
}
void BM_two_threads_alter_pmap(benchmark::State& st) { two_threads(st, false); }
void BM_two_threads_commute_pmap(benchmark::State& st) { two_threads(st, true); }
BENCHMARK(BM_two_threads_alter_pmap)->Threads(2)->UseRealTime();
BENCHMARK(BM_two_threads_commute_pmap)->Threads(2)->UseRealTime();

// --- memory ------------------------------------------------------------------

std::size_t heap_in_use() {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

// Bytes malloc hands out for each container of the 1M records.
void print_memory() {
  std::size_t before = heap_in_use();
  auto* m = new std_map_t;
  for (std::int64_t k = 0; k < records; ++k) m->emplace(k, make_record(k));
  std::size_t std_bytes = heap_in_use() - before;

  before = heap_in_use();
  auto* sorted = new pmap_t(pmap_t::from_sorted(m->begin(), m->end()));
  std::size_t sorted_bytes = heap_in_use() - before;

  before = heap_in_use();
  auto* random = new pmap_t;
  {
    auto t = random->transient();
    for (std::int64_t k : shuffled_ids()) t.set(k, make_record(k));
    *random = std::move(t).persistent();
  }
  std::size_t random_bytes = heap_in_use() - before;

  auto per = [](std::size_t bytes) { return static_cast<double>(bytes) / records; };
  std::printf("memory of 1M records (malloc'd bytes per entry):\n");
  std::printf("  std::map                        %6.1f\n", per(std_bytes));
  std::printf("  pmap (from_sorted, full nodes)  %6.1f   %.2fx std::map\n", per(sorted_bytes),
              per(sorted_bytes) / per(std_bytes));
  std::printf("  pmap (random inserts)           %6.1f   %.2fx std::map\n\n", per(random_bytes),
              per(random_bytes) / per(std_bytes));
  delete random;
  delete sorted;
  delete m;
}

}  // namespace

int main(int argc, char** argv) {
  print_memory();
  return instadump_bench::run_with_ratios(
      argc, argv,
      {
          {"BM_alter_pmap_set/0", "BM_alter_std_map_copy"},
          {"BM_alter_pmap_set/0", "BM_std_map_in_place_under_mutex/0"},
          {"BM_alter_pmap_set/1", "BM_std_map_in_place_under_mutex/1"},
          {"BM_find_pmap", "BM_find_std_map"},
          {"BM_iterate_pmap", "BM_iterate_std_map"},
          {"BM_build_pmap_transient", "BM_build_std_map"},
          {"BM_build_pmap_from_sorted", "BM_copy_std_map"},
          {"BM_two_threads_commute_pmap/real_time/threads:2", "BM_two_threads_alter_pmap/real_time/threads:2"},
      });
}

// Implementation of the ratio-printing benchmark reporter.
#include "ratio_reporter.h"

#include <algorithm>
#include <cstdio>

namespace instadump_bench {

void ratio_reporter::ReportRuns(const std::vector<Run>& runs) {
  ConsoleReporter::ReportRuns(runs);
  for (const Run& r : runs) {
    if (r.run_type != Run::RT_Iteration || r.error_occurred) continue;
    // Time per operation, as seen by the whole process: for threaded runs
    // Google Benchmark reports per-thread time, so use items/s when given.
    double ns = r.GetAdjustedRealTime() * 1e9 / benchmark::GetTimeUnitMultiplier(r.time_unit);
    auto it = r.counters.find("items_per_second");
    if (it != r.counters.end() && it->second.value > 0) ns = 1e9 / it->second.value;
    ns_per_item_[r.benchmark_name()].push_back(ns);
    for (const auto& [name, c] : r.counters) counters_[r.benchmark_name()][name].push_back(c.value);
  }
}

namespace {

// Median of the repetitions: robust against the odd run a busy host slows.
double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

void ratio_reporter::Finalize() {
  ConsoleReporter::Finalize();
  std::size_t reps = 0;
  for (const auto& [name, runs] : ns_per_item_) reps = std::max(reps, runs.size());
  std::printf("\n%-52s %-52s %14s %14s %8s\n", "benchmark", "baseline", "ns/op", "base ns/op", "ratio");
  for (const auto& [name, base] : pairs_) {
    auto a = ns_per_item_.find(name), b = ns_per_item_.find(base);
    if (a == ns_per_item_.end() || b == ns_per_item_.end()) continue;
    double an = median(a->second), bn = median(b->second);
    std::printf("%-52s %-52s %14.1f %14.1f %8.2f\n", name.c_str(), base.c_str(), an, bn, an / bn);
  }
  if (reps > 1) std::printf("(medians of %zu repetitions)\n", reps);
  std::printf("\nthroughput (all threads together):\n");
  for (const auto& [name, runs] : ns_per_item_) {
    double ns = median(runs);
    std::map<std::string, double> c;
    for (const auto& [counter, values] : counters_[name]) c[counter] = median(values);
    if (ns >= 1e6) {
      std::printf("  %-48s %10.2f ms/op", name.c_str(), ns / 1e6);
    } else {
      std::printf("  %-48s %10.2f M ops/s", name.c_str(), 1e3 / ns);
    }
    if (c.count("retries_per_commit")) std::printf("   %.4f retries/commit", c["retries_per_commit"]);
    std::printf("\n");
  }
}

int run_with_ratios(int argc, char** argv, std::vector<std::pair<std::string, std::string>> pairs) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  ratio_reporter reporter(std::move(pairs));
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}

}  // namespace instadump_bench

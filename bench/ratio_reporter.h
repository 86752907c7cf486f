// A Google Benchmark reporter that also prints, after the usual table, the
// ratio of each benchmark to the baseline it is compared with. With
// --benchmark_repetitions=N (best with --benchmark_enable_random_interleaving,
// so that a slow phase of a busy host hits both sides alike) it compares the
// medians of the repetitions.
#pragma once

#include <benchmark/benchmark.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace instadump_bench {

class ratio_reporter : public benchmark::ConsoleReporter {
 public:
  // Each pair: (benchmark name, baseline name); names as Google Benchmark
  // prints them (e.g. "BM_x/threads:2").
  explicit ratio_reporter(std::vector<std::pair<std::string, std::string>> pairs) : pairs_(std::move(pairs)) {}
  void ReportRuns(const std::vector<Run>& runs) override;
  void Finalize() override;

 private:
  std::vector<std::pair<std::string, std::string>> pairs_;
  // Every repetition's time per item and counter values, by benchmark.
  std::map<std::string, std::vector<double>> ns_per_item_;
  std::map<std::string, std::map<std::string, std::vector<double>>> counters_;
};

// Runs all registered benchmarks with a ratio_reporter; returns main's exit code.
int run_with_ratios(int argc, char** argv, std::vector<std::pair<std::string, std::string>> pairs);

}  // namespace instadump_bench

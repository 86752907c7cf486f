// Persistence benchmarks: save and load through Instadump against the
// alternatives a C++ developer would otherwise write, measured in the same run
// (ratios printed at the end; see docs/PERFORMANCE.md).
//
//   (a) 1,000 refs holding small ints
//   (b) one ref holding a std::vector of 100,000 / 1,000,000 products, with
//       the codec instadump-codegen generates (product_state.cpp)
//   (c) (a) after changing one ref (incremental save)
//   (d) issue 22's big state: 1,000,000 records in a ref<pmap> against the
//       same records in a ref<std::map> (big_state.cpp)
//
// Baselines: a cereal binary archive written to a temporary file + fdatasync
// + rename; SQLite storing the cereal blob in one transaction; LMDB storing
// the cereal blob; and the physical floor (memcpy of as many bytes as
// Instadump writes + write + fdatasync).
//
// The benchmarks are in persist_small_bench.cpp ((a), (c)),
// persist_products_bench.cpp ((b)) and persist_big_state_bench.cpp ((d));
// this file runs them, prints the ratios,
// and adds the measurements that are not timings.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "persist_fixtures.h"
#include "ratio_reporter.h"

import instadump;

namespace persist_bench {
namespace {

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
}  // namespace persist_bench

int main(int argc, char** argv) {
  std::vector<std::pair<std::string, std::string>> pairs = {
      {"BM_save_1000_small_refs/real_time", "BM_cereal_file_1000_values/real_time"},
      {"BM_save_1000_small_refs/real_time", "BM_cereal_file_1000_values_dir_synced/real_time"},
      {"BM_incremental_save_1000_refs_one_changed/real_time", "BM_small_durable_lmdb_commit/real_time"},
      {"BM_incremental_save_1000_refs_one_changed/real_time", "BM_lmdb_commit_shaped_like_incremental_save/real_time"},
      {"BM_lmdb_commit_shaped_like_incremental_save/real_time", "BM_small_durable_lmdb_commit/real_time"},
      {"BM_load_1000_small_refs/real_time", "BM_cereal_file_1000_values/real_time"},
      // Chunks (chunk_store_bench.cpp).
      {"BM_chunked_save_one_leaf_changed/real_time", "BM_small_durable_lmdb_commit/real_time"},
      {"BM_chunked_save_one_leaf_changed_direct/real_time", "BM_small_durable_lmdb_commit/real_time"},
      {"BM_chunked_first_save_30000_leaves/iterations:3/real_time",
       "BM_one_value_as_large_as_the_tree/iterations:3/real_time"},
      // Read-only opens reading the journal (read_only_bench.cpp).
      {"BM_read_only_read_settled_journal/real_time", "BM_read_only_read_no_journal/real_time"},
      {"BM_read_only_read_50_journaled/real_time", "BM_read_only_read_no_journal/real_time"},
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
  {
    const std::string s = "/1000000/iterations:4/real_time";
    pairs.push_back({"BM_big_pmap_first_save" + s, "BM_big_std_map_first_save" + s});
    pairs.push_back({"BM_big_pmap_save_one_changed" + s, "BM_small_durable_lmdb_commit/real_time"});
    pairs.push_back({"BM_big_member_first_save" + s, "BM_big_pmap_first_save" + s});
    pairs.push_back({"BM_big_member_save_one_changed/1000000/iterations:100/real_time",
                     "BM_small_durable_lmdb_commit/real_time"});
    pairs.push_back({"BM_big_nested_save_one_changed/1000000/iterations:100/real_time",
                     "BM_small_durable_lmdb_commit/real_time"});
    pairs.push_back({"BM_big_nested_save_one_changed/1000000/iterations:100/real_time", "BM_big_nested_first_save" + s});
    pairs.push_back({"BM_big_nested_first_save" + s, "BM_big_pmap_first_save" + s});
    pairs.push_back({"BM_big_member_save_changed/entries:1000000/changed:1000/iterations:20/real_time",
                     "BM_big_member_first_save" + s});
    for (const char* changed : {"1/clustered:0/iterations:100", "1000/clustered:0/iterations:20",
                                "1000/clustered:1/iterations:20", "100000/clustered:0/iterations:4",
                                "100000/clustered:1/iterations:4"}) {
      pairs.push_back({std::string("BM_big_pmap_save_changed/entries:1000000/changed:") + changed + "/real_time",
                       "BM_big_pmap_first_save" + s});
    }
    pairs.push_back({"BM_big_pmap_save_changed/entries:1000000/changed:1/clustered:0/iterations:100/real_time",
                     "BM_small_durable_lmdb_commit/real_time"});
    for (const char* push_back : {"0", "1"}) {
      pairs.push_back({std::string("BM_big_pvector_save_one_changed/elements:1000000/push_back:") + push_back +
                           "/iterations:100/real_time",
                       "BM_small_durable_lmdb_commit/real_time"});
    }
    for (const char* folding : {"1000/iterations:200", "100000/iterations:12"}) {
      pairs.push_back({std::string("BM_big_pmap_save_changed_folding/entries:1000000/changed:") + folding +
                           "/real_time",
                       "BM_big_pmap_first_save" + s});
    }
    pairs.push_back({"BM_big_pmap_load" + s, "BM_big_std_map_build_in_memory" + s});
    pairs.push_back({"BM_big_pmap_load" + s, "BM_big_std_map_load" + s});
    for (const char* deltas : {"10/changed:10000", "4/changed:100000"}) {
      pairs.push_back({std::string("BM_big_pmap_load_after_deltas/entries:1000000/saves:") + deltas +
                           "/iterations:4/real_time",
                       "BM_big_std_map_build_in_memory" + s});
    }
  }
  int rc = instadump_bench::run_with_ratios(argc, argv, pairs);
  if (!std::getenv("INSTADUMP_BENCH_SKIP_EXTRA")) persist_bench::report_extra_measurements();
  persist_bench::remove_scratch();
  return rc;
}

// Persistence benchmarks (b) of persist_bench.cpp: one ref holding a
// std::vector of 100,000 / 1,000,000 products (generated codec), saved and
// loaded; with their baselines (cereal to a file, into SQLite and LMDB, the
// physical floor, and building the vector in memory).
#include <benchmark/benchmark.h>
#include <cereal/archives/binary.hpp>

#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "persist_fixtures.h"

import instadump;

namespace persist_bench {
namespace {

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

}  // namespace
}  // namespace persist_bench

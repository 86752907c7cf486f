// Writing and reading snapshots in one process: round trips, ordering,
// pruning to keep_generations, incremental (kept) values, schemas, input
// checks, map growth, and reads running next to writes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <thread>

#include "common/errors.h"
#include "storage/checksum.h"
#include "test_util.h"

using namespace instadump::storage;
using storage_test::pattern;
using storage_test::read_all;
using storage_test::scratch_dir;
using storage_test::value_of;

namespace {
using values_t = std::vector<std::variant<new_value, kept_value>>;

values_t values_with(std::initializer_list<std::pair<const char*, std::size_t>> specs, std::uint64_t seed) {
  values_t values;
  for (auto [key, size] : specs) values.push_back(value_of(key, pattern(size, seed++)));
  return values;
}
}  // namespace

TEST_CASE("a snapshot round-trips bytes and sizes and checksums and schema identities and order") {
  scratch_dir tmp;
  auto store = snapshot_store::open(tmp.path(), {});
  values_t values;
  values.push_back(value_of("zeta", pattern(64, 1), {11, 3}));
  values.push_back(value_of("alpha", pattern(100'000, 2), {12, 4}));  // overflow pages
  values.push_back(value_of("empty", {}, {13, 5}));
  values.push_back(value_of(std::string(3000, 'n'), pattern(8, 4)));  // longer than LMDB's key limit
  snapshot_info info = store->write_snapshot(std::move(values), true);
  CHECK(info.id == 1);
  REQUIRE(info.entries.size() == 4);
  // write_snapshot reports the entries in the order of the values given...
  CHECK(info.entries[0].key == "zeta");
  CHECK(info.entries[1].key == "alpha");
  CHECK(info.entries[1].schema == schema_identity{12, 4});
  CHECK(info.entries[1].checksum == checksum_of(pattern(100'000, 2)));
  CHECK(info.total_bytes == 64 + 100'000 + 0 + 8);
  // ... reads in key order.
  std::sort(info.entries.begin(), info.entries.end(),
            [](const entry_info& a, const entry_info& b) { return a.key < b.key; });
  CHECK(info.entries[0].key == "alpha");
  CHECK(info.entries[3].key == "zeta");
  CHECK(store->newest() == info);

  auto read = read_all(*store, 1);
  CHECK(read["zeta"] == pattern(64, 1));
  CHECK(read["alpha"] == pattern(100'000, 2));
  CHECK(read["empty"].empty());
  CHECK(read[std::string(3000, 'n')] == pattern(8, 4));

  store.reset();
  auto reopened = snapshot_store::open(tmp.path(), {});
  CHECK(reopened->newest() == info);
  CHECK(read_all(*reopened, 1)["alpha"] == pattern(100'000, 2));
}

TEST_CASE("visited words are 8-byte aligned and sized like the entry") {
  scratch_dir tmp;
  auto store = snapshot_store::open(tmp.path(), {});
  // Small values of several sizes end up at various (2-byte aligned) offsets.
  values_t values;
  for (int i = 0; i < 20; ++i) values.push_back(value_of("v" + std::to_string(i), pattern(8 * (i + 1), i)));
  const auto info = store->write_snapshot(std::move(values), false);
  int visited = 0;
  store->read_snapshot(info.id, [&](const entry_info& e, kj::ArrayPtr<const capnp::word> words) {
    CHECK(reinterpret_cast<std::uintptr_t>(words.begin()) % 8 == 0);
    CHECK(words.size() * 8 == e.size_bytes);
    ++visited;
  });
  CHECK(visited == 20);
}

TEST_CASE("snapshots are listed newest first and pruned to keep_generations") {
  scratch_dir tmp;
  store_options options;
  options.keep_generations = 2;
  auto store = snapshot_store::open(tmp.path(), options);
  for (std::uint64_t i = 1; i <= 4; ++i) {
    CHECK(store->write_snapshot(values_with({{"a", 4096}, {"b", 16}}, i * 10), false).id == i);
  }
  auto list = store->list_snapshots();
  REQUIRE(list.size() == 2);
  CHECK(list[0].id == 4);
  CHECK(list[1].id == 3);
  CHECK(store->stats().blob_count == 2);  // the two values of each kept snapshot share a blob
  CHECK(store->stats().snapshot_count == 2);
  CHECK(read_all(*store, 3)["a"] == pattern(4096, 30));
  try {
    store->read_snapshot(1, [](const entry_info&, kj::ArrayPtr<const capnp::word>) {});
    FAIL("pruned snapshot was readable");
  } catch (const instadump::load_failed& e) {
    CHECK_THAT(e.what(), Catch::Contains("snapshot 1"));
  }
}

TEST_CASE("kept values share blobs across snapshots and survive pruning of their origin") {
  scratch_dir tmp;
  store_options options;
  options.keep_generations = 1;
  auto store = snapshot_store::open(tmp.path(), options);
  const auto first = store->write_snapshot(values_with({{"big", 8192}, {"small", 8}}, 1), false);
  const std::uint64_t big_blob = first.entries[0].blob_id;

  values_t second_values;
  second_values.push_back(kept_value{"big", {7, 1}, big_blob});
  second_values.push_back(value_of("small", pattern(8, 99)));
  const auto second = store->write_snapshot(std::move(second_values), true);
  CHECK(second.entries[0].blob_id == big_blob);
  CHECK(second.entries[0].size_bytes == 8192);
  CHECK(second.entries[0].checksum == first.entries[0].checksum);
  // keep_generations = 1: snapshot 1 is gone; its blob stays for "big".
  CHECK(store->list_snapshots().size() == 1);
  CHECK(store->stats().blob_count == 2);
  auto read = read_all(*store, second.id);
  CHECK(read["big"] == pattern(8192, 1));
  CHECK(read["small"] == pattern(8, 99));

  values_t stale;
  // Snapshot 1's "small" shares big's blob, but no kept snapshot has it.
  REQUIRE(first.entries[1].blob_id == big_blob);
  stale.push_back(kept_value{"small", {}, first.entries[1].blob_id, first.entries[1].offset});
  CHECK_THROWS_AS(store->write_snapshot(std::move(stale), false), instadump::save_failed);
  CHECK(store->newest()->id == second.id);
}

TEST_CASE("write_snapshot rejects bad input and changes nothing") {
  scratch_dir tmp;
  auto store = snapshot_store::open(tmp.path(), {});
  store->write_snapshot(values_with({{"a", 8}}, 1), false);
  SECTION("duplicate keys") {
    CHECK_THROWS_AS(store->write_snapshot(values_with({{"a", 8}, {"a", 16}}, 1), false), instadump::save_failed);
  }
  SECTION("size not a multiple of 8") {
    values_t values;
    auto v = value_of("odd", pattern(8, 1));
    v.size_bytes = 7;
    values.push_back(std::move(v));
    CHECK_THROWS_AS(store->write_snapshot(std::move(values), false), instadump::save_failed);
  }
  SECTION("empty key") {
    CHECK_THROWS_AS(store->write_snapshot(values_with({{"", 8}}, 1), false), instadump::save_failed);
  }
  SECTION("neither a fill function nor the bytes") {
    values_t values;
    new_value v;
    v.key = "nothing";
    v.size_bytes = 16;
    const auto eight = pattern(8, 1);
    v.bytes = eight;  // fewer than size_bytes
    values.push_back(std::move(v));
    CHECK_THROWS_WITH(store->write_snapshot(std::move(values), false), Catch::Contains("\"nothing\""));
  }
  CHECK(store->list_snapshots().size() == 1);
  CHECK(store->write_snapshot(values_with({{"b", 8}}, 2), false).id == 2);
}

TEST_CASE("values given as bytes are stored like filled ones, directly and through the journal") {
  scratch_dir tmp;
  auto store = snapshot_store::open(tmp.path(), {});
  const auto small = pattern(64, 3), large = pattern(32 * 1024, 4);
  for (std::uint64_t base : {0, 1}) {  // the first journaled, the second direct (a large value)
    snapshot_delta d;
    new_value a, b;
    a.key = "small";
    a.size_bytes = small.size();
    a.bytes = small;
    b.key = "large";
    b.size_bytes = large.size();
    b.bytes = large;
    d.put.push_back(std::move(a));
    if (base == 1) d.put.push_back(std::move(b));
    CHECK(store->write_snapshot(base, std::move(d), true).id == base + 1);
  }
  const auto values = read_all(*store, 2);
  CHECK(values.at("small") == small);
  CHECK(values.at("large") == large);
}

TEST_CASE("entry_keys = false returns the same entries without their names, directly and through the journal") {
  scratch_dir tmp;
  auto store = snapshot_store::open(tmp.path(), {});
  for (std::uint64_t base : {0, 1}) {  // the first journaled, the second direct (a large value)
    snapshot_delta d;
    d.put.push_back(value_of("a", pattern(64, base)));
    d.put.push_back(value_of("b", pattern(base == 0 ? 8 : 40 * 1024, base + 7)));
    d.entry_keys = false;
    const snapshot_info written = store->write_snapshot(base, std::move(d), true);
    REQUIRE(written.entries.size() == 2);
    const snapshot_info stored = *store->newest();  // entries sorted by key: a, b
    REQUIRE(stored.id == written.id);
    for (std::size_t i = 0; i < 2; ++i) {
      CHECK(written.entries[i].key.empty());
      entry_info named = written.entries[i];
      named.key = stored.entries[i].key;
      CHECK(named == stored.entries[i]);
    }
  }
}

TEST_CASE("schemas are stored with a snapshot and read back by fingerprint") {
  scratch_dir tmp;
  auto store = snapshot_store::open(tmp.path(), {});
  std::vector<schema_record> schemas{{0xABCDEF, pattern(40, 5)}, {0x1234, pattern(8, 6)}};
  store->write_snapshot(values_with({{"a", 8}}, 1), false, schemas);
  CHECK(store->get_schema(0xABCDEF) == pattern(40, 5));
  CHECK(store->get_schema(0x1234) == pattern(8, 6));
  CHECK_FALSE(store->get_schema(77).has_value());
}

TEST_CASE("the map grows when full: a 50 MiB snapshot in a 1 MiB map") {
  scratch_dir tmp;
  store_options options;
  options.initial_map_size = 1 << 20;
  auto store = snapshot_store::open(tmp.path(), options);
  store->write_snapshot(values_with({{"before", 1024}}, 1), true);
  const auto big = pattern(50 << 20, 7);
  int fills = 0;
  values_t values;
  new_value v;
  v.key = "big";
  v.size_bytes = big.size();
  v.fill = [&](std::span<std::byte> out) {
    ++fills;
    std::memcpy(out.data(), big.data(), big.size());
  };
  values.push_back(std::move(v));
  const auto info = store->write_snapshot(std::move(values), true);
  CHECK(fills >= 1);
  CHECK(store->stats().map_bytes >= (50u << 20));
  CHECK(info.entries[0].checksum == checksum_of(big));
  CHECK(read_all(*store, info.id)["big"] == big);
  store.reset();
  // The grown size is recorded in the file: reopening with a tiny map works.
  auto reopened = snapshot_store::open(tmp.path(), options);
  CHECK(reopened->stats().map_bytes >= (50u << 20));
  CHECK(read_all(*reopened, info.id)["big"] == big);
}

TEST_CASE("exceptions from visit propagate") {
  scratch_dir tmp;
  auto store = snapshot_store::open(tmp.path(), {});
  const auto info = store->write_snapshot(values_with({{"a", 8}}, 1), false);
  CHECK_THROWS_AS(store->read_snapshot(info.id, [](const entry_info&, kj::ArrayPtr<const capnp::word>) {
    throw std::logic_error("from visit");
  }),
                  std::logic_error);
  CHECK(read_all(*store, info.id).size() == 1);
}

TEST_CASE("reads run concurrently with writes from other threads") {
  scratch_dir tmp;
  store_options options;
  options.initial_map_size = 1 << 20;  // forces map growth while readers run
  auto store = snapshot_store::open(tmp.path(), options);
  store->write_snapshot(values_with({{"a", 64}}, 1), false);
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!done) {
        auto newest = store->newest();
        if (!newest) continue;
        try {
          store->read_snapshot(newest->id, [&](const entry_info& e, kj::ArrayPtr<const capnp::word> words) {
            if (words.size() * 8 != e.size_bytes) ++bad;
          });
        } catch (const instadump::load_failed&) {
          // pruned between newest() and read_snapshot(): fine
        }
      }
    });
  }
  for (int i = 0; i < 20; ++i) store->write_snapshot(values_with({{"a", 64}, {"b", 200'000}}, i), false);
  done = true;
  for (auto& r : readers) r.join();
  CHECK(bad == 0);
  CHECK(store->newest()->id == 21);
}

// Stores of format 1 (one full manifest per snapshot, one framed value per
// blob), as the previous release wrote them: read as they are, and converted
// to format 2 by their first write, in the same transaction -- every old
// snapshot stays readable, and old blobs are reclaimed like new ones.
#include <catch2/catch.hpp>

#include <lmdb.h>

#include <map>
#include <set>

#include "common/errors.h"
#include "storage/checksum.h"
#include "storage/manifest_codec.h"
#include "test_util.h"

using namespace instadump::storage;
using storage_test::pattern;
using storage_test::read_all;
using storage_test::scratch_dir;
using storage_test::be_key;
using storage_test::stored_format;
using storage_test::value_of;

namespace {

void put(MDB_txn* txn, MDB_dbi dbi, MDB_val k, std::span<const std::byte> bytes) {
  MDB_val v{bytes.size(), const_cast<std::byte*>(bytes.data())};
  REQUIRE(mdb_put(txn, dbi, &k, &v, 0) == 0);
}

std::span<const std::byte> as_bytes(const kj::Array<capnp::word>& words) {
  return {reinterpret_cast<const std::byte*>(words.begin()), words.size() * sizeof(capnp::word)};
}

// Snapshot id -> (key -> blob id); blob id -> bytes.
struct format1_store {
  std::map<std::uint64_t, std::map<std::string, std::uint64_t>> snapshots;
  std::map<std::uint64_t, std::vector<std::byte>> blobs;
  std::set<std::uint64_t> damaged;  // manifests written as junk

  std::map<std::string, std::vector<std::byte>> values_of(std::uint64_t id) const {
    std::map<std::string, std::vector<std::byte>> out;
    for (const auto& [key, blob] : snapshots.at(id)) out[key] = blobs.at(blob);
    return out;
  }

  void write(const std::filesystem::path& dir) const {
    MDB_env* env = nullptr;
    REQUIRE(mdb_env_create(&env) == 0);
    mdb_env_set_maxdbs(env, 8);
    mdb_env_set_mapsize(env, std::size_t{64} << 20);
    REQUIRE(mdb_env_open(env, dir.c_str(), 0, 0600) == 0);
    MDB_txn* txn = nullptr;
    REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
    MDB_dbi meta, snaps, blob_db, schemas;
    REQUIRE(mdb_dbi_open(txn, "meta", MDB_CREATE, &meta) == 0);
    REQUIRE(mdb_dbi_open(txn, "snapshots", MDB_CREATE, &snaps) == 0);
    REQUIRE(mdb_dbi_open(txn, "blobs", MDB_CREATE, &blob_db) == 0);
    REQUIRE(mdb_dbi_open(txn, "schemas", MDB_CREATE, &schemas) == 0);
    auto store_meta_bytes = encode_store_meta(store_meta{1, 42});
    put(txn, meta, MDB_val{5, const_cast<char*>("store")}, as_bytes(store_meta_bytes));
    unsigned char buf[8];
    const std::uint64_t next_blob = blobs.empty() ? 1 : blobs.rbegin()->first + 1;
    const auto counter = be_key(next_blob, buf);
    put(txn, meta, MDB_val{12, const_cast<char*>("next_blob_id")},
        {static_cast<const std::byte*>(counter.mv_data), 8});
    for (const auto& [id, bytes] : blobs) put(txn, blob_db, be_key(id, buf), bytes);
    for (const auto& [id, values] : snapshots) {
      if (damaged.count(id)) {
        put(txn, snaps, be_key(id, buf), pattern(48, id));
        continue;
      }
      snapshot_info info;
      info.id = id;
      info.created_unix_nanos = 1000 + static_cast<std::int64_t>(id);
      for (const auto& [key, blob] : values) {
        info.entries.push_back(
            entry_info{key, {77, 1}, blob, blobs.at(blob).size(), checksum_of(blobs.at(blob))});
      }
      auto manifest = encode_manifest(info);
      put(txn, snaps, be_key(id, buf), as_bytes(manifest));
    }
    REQUIRE(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
  }
};

// Three snapshots: "a" changes every time, "b" never, "c" is added in 2 and
// removed in 3.
format1_store three_snapshots() {
  format1_store s;
  s.blobs = {{1, pattern(64, 1)}, {2, pattern(4096, 2)}, {3, pattern(64, 3)}, {4, pattern(8, 4)},
             {5, pattern(64, 5)}, {6, {}}};
  s.snapshots[1] = {{"a", 1}, {"b", 2}, {"empty", 6}};
  s.snapshots[2] = {{"a", 3}, {"b", 2}, {"c", 4}, {"empty", 6}};
  s.snapshots[3] = {{"a", 5}, {"b", 2}, {"empty", 6}};
  return s;
}

}  // namespace

TEST_CASE("a format 1 store is read as it is, read-only and writable") {
  scratch_dir tmp;
  const format1_store old = three_snapshots();
  old.write(tmp.path());
  for (bool read_only : {true, false}) {
    store_options options;
    options.read_only = read_only;
    auto store = snapshot_store::open(tmp.path(), options);
    CHECK(store->snapshot_ids() == std::vector<std::uint64_t>{3, 2, 1});
    for (std::uint64_t id : {1, 2, 3}) CHECK(read_all(*store, id) == old.values_of(id));
    const auto list = store->list_snapshots();
    REQUIRE(list.size() == 3);
    CHECK(list[0].id == 3);
    CHECK(list[2].entries[0].framed);  // format 1 values are framed messages
    CHECK(store->newest()->created_unix_nanos == 1003);
  }
  CHECK(stored_format(tmp.path()) == 1);  // opening, even writable, changes nothing of substance
}

TEST_CASE("the first write converts a format 1 store, keeping every snapshot readable") {
  scratch_dir tmp;
  const format1_store old = three_snapshots();
  old.write(tmp.path());
  store_options options;
  options.keep_generations = 3;
  {
    auto store = snapshot_store::open(tmp.path(), options);
    // Built on the newest old snapshot: "a" changes, the rest stays where it is.
    const auto info = store->write_snapshot(3, {{value_of("a", pattern(64, 50))}, {}}, true);
    CHECK(info.id == 4);
  }
  CHECK(stored_format(tmp.path()) == format_version_without_chunks);  // no chunks yet
  auto store = snapshot_store::open(tmp.path(), options);
  CHECK(store->snapshot_ids() == std::vector<std::uint64_t>{4, 3, 2});
  auto expected = old.values_of(3);
  expected["a"] = pattern(64, 50);
  CHECK(read_all(*store, 4) == expected);
  CHECK(read_all(*store, 3) == old.values_of(3));
  CHECK(read_all(*store, 2) == old.values_of(2));
  // Snapshot 1 is pruned: its "a" (blob 1) is gone, "b" (blob 2) stays.
  const std::set<std::uint64_t> blobs = storage_test::referenced_blobs(*store);
  CHECK(blobs.count(1) == 0);
  CHECK(blobs.count(2) == 1);
  CHECK(store->stats().blob_count == blobs.size());
  // Later writes are plain format 2.
  store->write_snapshot(4, {{value_of("b", pattern(16, 60))}, {"c"}}, true);
  store->write_snapshot(5, {{}, {"a"}}, true);
  CHECK(read_all(*store, 6) == std::map<std::string, std::vector<std::byte>>{{"b", pattern(16, 60)}, {"empty", {}}});
  CHECK(read_all(*store, 4) == expected);
}

TEST_CASE("a damaged format 1 manifest does not stop the conversion and is pruned in turn") {
  scratch_dir tmp;
  format1_store old = three_snapshots();
  old.damaged.insert(2);
  old.write(tmp.path());
  store_options options;
  options.keep_generations = 2;
  auto store = snapshot_store::open(tmp.path(), options);
  CHECK(read_all(*store, 3) == old.values_of(3));
  CHECK_THROWS_AS(read_all(*store, 2), instadump::corrupt_data);
  store->write_snapshot(3, {{value_of("a", pattern(64, 70))}, {}}, true);
  store->write_snapshot(4, {{value_of("a", pattern(64, 71))}, {}}, true);
  CHECK(store->snapshot_ids() == std::vector<std::uint64_t>{5, 4});
  auto expected = old.values_of(3);
  expected["a"] = pattern(64, 71);
  CHECK(read_all(*store, 5) == expected);
  // Reopened, the chain is whole again and whatever only the damaged
  // snapshots had is reclaimed by the next write.
  store.reset();
  store = snapshot_store::open(tmp.path(), options);
  store->write_snapshot(5, {{value_of("a", pattern(64, 72))}, {}}, true);
  const std::set<std::uint64_t> blobs = storage_test::referenced_blobs(*store);
  CHECK(store->stats().blob_count == blobs.size());
}

// Chunks in the snapshot store (format 4): a tree of chunks under a value
// round-trips through chunk_source; a save after one leaf of a large tree
// changed writes a handful of chunks and bytes; chunks are shared by the
// kept snapshots that reach them and reclaimed (cascading) when none does,
// across reopens; damaged chunks are reported, never misread.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <string>

#include "common/errors.h"
#include "storage/test_hooks.h"
#include "chunk_tree.h"
#include "test_util.h"

using namespace instadump::storage;
using storage_test::be_key;
using storage_test::chunk_tree;
using storage_test::read_tree;
using storage_test::scratch_dir;
using storage_test::stored_format;
using storage_test::tamper;

namespace {

store_options direct(unsigned keep = 2) {
  store_options o;
  o.journal = false;
  o.keep_generations = keep;
  return o;
}

// Bytes this process has handed to write(2) and friends so far
// (/proc/self/io "wchar"): what a save writes, LMDB's pages and the journal.
std::uint64_t bytes_written_so_far() {
  std::ifstream io("/proc/self/io");
  std::string name;
  std::uint64_t value = 0;
  while (io >> name >> value) {
    if (name == "wchar:") return value;
  }
  FAIL("no wchar in /proc/self/io");
  return 0;
}

// The chunks the kept snapshots reach, by the model: the union of the ids of
// the trees they hold.
struct kept_trees {
  std::map<std::uint64_t, std::vector<std::uint64_t>> ids;    // by snapshot id
  std::map<std::uint64_t, std::vector<std::uint64_t>> seeds;  // by snapshot id

  void saved(std::uint64_t snapshot, const chunk_tree& t, unsigned keep) {
    ids[snapshot] = t.ids();
    seeds[snapshot] = t.seeds();
    while (ids.size() > keep) {
      ids.erase(ids.begin());
      seeds.erase(seeds.begin());
    }
  }
  std::size_t reachable() const {
    std::set<std::uint64_t> all;
    for (const auto& [snapshot, tree] : ids) all.insert(tree.begin(), tree.end());
    return all.size();
  }
};

// Saves what `t` changed (as value "tree") on the newest snapshot.
snapshot_info save_tree(snapshot_store& store, chunk_tree& t) {
  const std::optional<snapshot_info> newest = store.newest();
  return store.write_snapshot(newest ? newest->id : 0, t.delta(store.next_chunk_id()), true);
}

}  // namespace

TEST_CASE("a tree of chunks round-trips through chunk_source, on both write paths") {
  for (bool journal : {false, true}) {
    CAPTURE(journal);
    scratch_dir tmp;
    store_options options = direct();
    options.journal = journal;
    auto store = snapshot_store::open(tmp.path(), options);
    CHECK(store->next_chunk_id() == 1);
    chunk_tree t(200, 8, 6);
    const snapshot_info info = save_tree(*store, t);
    REQUIRE(info.entries.size() == 1);
    CHECK(info.entries[0].chunk_roots == std::vector<std::uint64_t>{t.root()});
    CHECK(store->next_chunk_id() == t.root() + 1);
    CHECK(read_tree(*store, info.id) == t.seeds());
    const store_stats stats = store->stats();
    CHECK(stats.chunk_count == t.ids().size());
    CHECK(stats.chunk_bytes > 200 * 6 * 8);
    // The listing and the read give the value's roots.
    CHECK(store->list_snapshots().at(0).entries.at(0).chunk_roots == std::vector<std::uint64_t>{t.root()});

    // The same after reopening, and read-only next to the writer (in
    // another process: LMDB opens a store once per process).
    store.reset();
    store = snapshot_store::open(tmp.path(), options);
    CHECK(read_tree(*store, info.id) == t.seeds());
    CHECK(store->next_chunk_id() == t.root() + 1);
    store->flush_journal();
    CHECK(storage_test::run_in_child([&] {
            store_options ro;
            ro.read_only = true;
            auto reader = snapshot_store::open(tmp.path(), ro);
            return read_tree(*reader, info.id) == t.seeds() && reader->next_chunk_id() == t.root() + 1;
          }) == 0);
  }
}

TEST_CASE("a chunk-id floor raises next_chunk_id durably, on both write paths, with chunks or without") {
  for (bool journal : {false, true}) {
    CAPTURE(journal);
    scratch_dir tmp;
    store_options options = direct();
    options.journal = journal;
    auto store = snapshot_store::open(tmp.path(), options);
    chunk_tree t(40, 8, 4);
    snapshot_delta first = t.delta(store->next_chunk_id());
    first.next_chunk_id_floor = 1000;
    store->write_snapshot(0, std::move(first), true);
    CHECK(store->next_chunk_id() == 1000);
    // A floor below the next id changes nothing; one above raises it even
    // when the write stores no chunk.
    snapshot_delta plain;
    plain.remove.push_back("tree");
    plain.next_chunk_id_floor = 10;
    store->write_snapshot(store->newest()->id, std::move(plain), true);
    CHECK(store->next_chunk_id() == 1000);
    snapshot_delta higher;
    higher.next_chunk_id_floor = 5000;
    store->write_snapshot(store->newest()->id, std::move(higher), true);
    CHECK(store->next_chunk_id() == 5000);
    // The next save's chunks start there, and the floor survives a reopen.
    chunk_tree u(40, 8, 4);
    save_tree(*store, u);
    const std::vector<std::uint64_t> ids = u.ids();
    CHECK(*std::min_element(ids.begin(), ids.end()) >= 5000);
    store.reset();
    store = snapshot_store::open(tmp.path(), options);
    CHECK(store->next_chunk_id() == u.root() + 1);
    CHECK(read_tree(*store, store->newest()->id) == u.seeds());
  }
}

TEST_CASE("stores stay format 3 until a write stores chunks, which raises them to the newest format") {
  scratch_dir tmp;
  {
    auto store = snapshot_store::open(tmp.path(), direct());
    store->write_snapshot(storage_test::one_value("plain", 64, 1), true);
  }
  CHECK(stored_format(tmp.path()) == format_version_without_chunks);
  {
    auto store = snapshot_store::open(tmp.path(), direct());
    CHECK(storage_test::read_all(*store, 1).at("plain") == storage_test::pattern(64, 1));
    chunk_tree t(10, 4, 4);
    save_tree(*store, t);
  }
  CHECK(stored_format(tmp.path()) == format_version);
  auto store = snapshot_store::open(tmp.path(), direct());
  CHECK(storage_test::read_all(*store, 2).at("plain") == storage_test::pattern(64, 1));
  // A later write without chunks keeps the newest format.
  store->write_snapshot(storage_test::one_value("plain", 64, 3), true);
  store.reset();
  CHECK(stored_format(tmp.path()) == format_version);
}

TEST_CASE("a store of format 4 (chunks from a build before deltas) opens and reads -- a write raises it to 5") {
  scratch_dir tmp;
  chunk_tree t(10, 4, 4);
  {
    auto store = snapshot_store::open(tmp.path(), direct());
    save_tree(*store, t);
  }
  tamper(tmp.path(), [](MDB_txn* txn, const auto& dbi) {
    const auto meta = encode_store_meta(store_meta{4, 0});
    MDB_val k{5, const_cast<char*>("store")};
    MDB_val v{meta.size() * sizeof(capnp::word), const_cast<capnp::word*>(meta.begin())};
    REQUIRE(mdb_put(txn, dbi("meta"), &k, &v, 0) == 0);
  });
  REQUIRE(stored_format(tmp.path()) == 4);
  {
    auto store = snapshot_store::open(tmp.path(), direct());
    CHECK(read_tree(*store, store->newest()->id) == t.seeds());
    store->write_snapshot(storage_test::one_value("plain", 64, 3), true);
  }
  CHECK(stored_format(tmp.path()) == 4);  // (nothing written that a build of format 4 cannot read)
  auto store = snapshot_store::open(tmp.path(), direct());
  chunk_tree u(7, 3, 5);
  save_tree(*store, u);
  store.reset();
  CHECK(stored_format(tmp.path()) == format_version);
}

TEST_CASE("a save after one leaf of a 30,000-leaf tree changed writes a handful of chunks and bytes") {
  scratch_dir tmp;
  auto store = snapshot_store::open(tmp.path(), direct(2));
  chunk_tree t(30000, 32, 16);  // 30,000 leaves under 938, 30 and 1 branches
  const std::uint64_t before_first = bytes_written_so_far();
  const snapshot_delta first = t.delta(store->next_chunk_id());
  const std::size_t first_chunks = first.chunks.size();
  store->write_snapshot(0, first, true);
  const std::uint64_t first_bytes = bytes_written_so_far() - before_first;
  CHECK(first_chunks == 30000 + 938 + 30 + 1);
  CHECK(store->stats().chunk_count == first_chunks);

  kept_trees model;
  model.saved(1, t, 2);
  std::uint64_t snapshot = 1;
  for (std::size_t leaf : {12345u, 29999u, 7u}) {
    t.change_leaf(leaf, 1000000 + leaf);
    const std::uint64_t before = bytes_written_so_far();
    const snapshot_delta d = t.delta(store->next_chunk_id());
    CHECK(d.chunks.size() == 4);  // the leaf and its path of 3 branches
    snapshot = store->write_snapshot(snapshot, d, true).id;
    const std::uint64_t written = bytes_written_so_far() - before;
    model.saved(snapshot, t, 2);
    INFO("first save wrote " << first_bytes << " bytes; after one leaf changed: " << written);
    CHECK(written <= 64 * 1024);
    CHECK(written * 50 < first_bytes);
    CHECK(store->stats().chunk_count == model.reachable());
  }
  CHECK(read_tree(*store, snapshot) == t.seeds());
  CHECK(read_tree(*store, snapshot - 1) == model.seeds.begin()->second);
}

TEST_CASE("100 saves changing a few leaves keep the chunks and the file bounded -- kept snapshots read back whole") {
  for (bool journal : {false, true}) {
    CAPTURE(journal);
    scratch_dir tmp;
    store_options options = direct(2);
    options.journal = journal;
    auto store = snapshot_store::open(tmp.path(), options);
    chunk_tree t(3000, 16, 8);
    std::mt19937_64 rng(journal ? 7 : 8);
    kept_trees model;
    model.saved(save_tree(*store, t).id, t, 2);
    std::uint64_t file_after_10 = 0;
    for (std::uint64_t i = 2; i <= 100; ++i) {
      for (int k = 0; k < 3; ++k) t.change_leaf(rng() % 3000, i * 10 + k);
      const snapshot_info info = save_tree(*store, t);
      REQUIRE(info.id == i);
      model.saved(info.id, t, 2);
      if (i % 10 == 0) {
        store->flush_journal();
        const store_stats stats = store->stats();
        CHECK(stats.chunk_count == model.reachable());
        CHECK(stats.snapshot_count == 2);
        for (const auto& [id, seeds] : model.seeds) CHECK(read_tree(*store, id) == seeds);
        const std::uint64_t file = std::filesystem::file_size(tmp / "data.mdb");
        if (i == 10) file_after_10 = file;
        INFO("data.mdb after save 10: " << file_after_10 << " bytes, after save " << i << ": " << file);
        CHECK(file <= file_after_10 + file_after_10 / 2);
      }
    }
    // Reopening rebuilds the counts: reclamation goes on exactly as before.
    store.reset();
    store = snapshot_store::open(tmp.path(), options);
    for (std::uint64_t i = 101; i <= 104; ++i) {
      t.change_leaf(rng() % 3000, i * 10);
      model.saved(save_tree(*store, t).id, t, 2);
      store->flush_journal();
      CHECK(store->stats().chunk_count == model.reachable());
    }
    for (const auto& [id, seeds] : model.seeds) CHECK(read_tree(*store, id) == seeds);
  }
}

TEST_CASE("a value that stops referring to a tree lets every chunk of it go, in a cascade") {
  scratch_dir tmp;
  auto store = snapshot_store::open(tmp.path(), direct(1));
  chunk_tree t(500, 8, 4);
  save_tree(*store, t);
  CHECK(store->stats().chunk_count == t.ids().size());
  // The next snapshot drops "tree": with one snapshot kept, its root goes,
  // and with it every chunk below.
  snapshot_delta d;
  d.remove.push_back("tree");
  d.put.push_back(storage_test::value_of("other", storage_test::pattern(8, 1)));
  store->write_snapshot(1, d, true);
  CHECK(store->stats().chunk_count == 0);
  CHECK(store->stats().chunk_bytes == 0);
  // Ids are never reused.
  CHECK(store->next_chunk_id() == t.root() + 1);
}

TEST_CASE("a value kept from an earlier snapshot keeps its chunks") {
  scratch_dir tmp;
  auto store = snapshot_store::open(tmp.path(), direct(1));
  chunk_tree t(100, 8, 4);
  const snapshot_info first = save_tree(*store, t);
  const entry_info& e = first.entries[0];
  snapshot_delta d;
  d.put.push_back(kept_value{"tree", e.schema, e.blob_id, e.offset, e.size_bytes, e.checksum, e.framed, e.key_id});
  d.put.push_back(storage_test::value_of("other", storage_test::pattern(8, 1)));
  const snapshot_info second = store->write_snapshot(1, d, true);
  CHECK(second.entries[0].chunk_roots == std::vector<std::uint64_t>{t.root()});
  CHECK(store->stats().chunk_count == t.ids().size());
  CHECK(read_tree(*store, 2) == t.seeds());
}

TEST_CASE("reopening sweeps chunks nothing refers to, keeping those still reached") {
  scratch_dir tmp;
  chunk_tree t(64, 8, 4);
  std::uint64_t root = 0, leaf = 0;
  {
    auto store = snapshot_store::open(tmp.path(), direct(1));
    save_tree(*store, t);
    root = t.root();
    leaf = t.ids().front();
  }
  // Left by a crash of a build that wrote chunks it never referred to: an
  // orphan whose child is a live leaf, and an orphan below it.
  const std::uint64_t payload[1] = {1};
  const auto below = encode_chunk(root + 10, storage_test::kTreeSchema, storage_test::kLeafType, {},
                                  kj::arrayPtr(reinterpret_cast<const capnp::word*>(payload), 1));
  const std::uint64_t kids[2] = {leaf, root + 10};
  const auto above = encode_chunk(root + 11, storage_test::kTreeSchema, storage_test::kBranchType, kids,
                                  kj::arrayPtr(reinterpret_cast<const capnp::word*>(payload), 1));
  tamper(tmp.path(), [&](MDB_txn* txn, const auto& dbi) {
    const MDB_dbi chunks = dbi("chunks");
    for (const auto* c : {&below, &above}) {
      std::uint64_t id;
      std::memcpy(&id, c->data() + 8, 8);
      unsigned char buf[8];
      MDB_val k = be_key(id, buf);
      MDB_val v{c->size(), const_cast<std::byte*>(c->data())};
      REQUIRE(mdb_put(txn, chunks, &k, &v, 0) == 0);
    }
  });
  auto store = snapshot_store::open(tmp.path(), direct(1));
  CHECK(store->next_chunk_id() == root + 12);  // never below a stored id
  CHECK(store->stats().chunk_count == t.ids().size() + 2);
  t.change_leaf(3, 99);
  save_tree(*store, t);
  // Both orphans went; the old path of leaf 3 went with snapshot 1.
  CHECK(store->stats().chunk_count == t.ids().size());
  CHECK(read_tree(*store, 2) == t.seeds());
}

TEST_CASE("a damaged or missing chunk is corrupt_data naming the chunk and the value, never misread") {
  scratch_dir tmp;
  chunk_tree t(64, 8, 4);
  {
    auto store = snapshot_store::open(tmp.path(), direct());
    save_tree(*store, t);
  }
  const std::uint64_t leaf = t.ids()[5];
  auto error_of = [&] {
    auto store = snapshot_store::open(tmp.path(), direct());
    try {
      read_tree(*store, 1);
    } catch (const instadump::corrupt_data& e) {
      return std::string(e.what());
    }
    FAIL("the damage was not noticed");
    return std::string();
  };
  SECTION("a flipped byte in the payload") {
    tamper(tmp.path(), [&](MDB_txn* txn, const auto& dbi) {
      const MDB_dbi chunks = dbi("chunks");
      unsigned char buf[8];
      MDB_val k = be_key(leaf, buf), v;
      REQUIRE(mdb_get(txn, chunks, &k, &v) == 0);
      std::vector<std::byte> bytes(static_cast<std::byte*>(v.mv_data),
                                   static_cast<std::byte*>(v.mv_data) + v.mv_size);
      bytes.back() ^= std::byte{0x10};
      MDB_val w{bytes.size(), bytes.data()};
      REQUIRE(mdb_put(txn, chunks, &k, &w, 0) == 0);
    });
    const std::string what = error_of();
    CHECK_THAT(what, Catch::Contains("chunk " + std::to_string(leaf)) && Catch::Contains("\"tree\"") &&
                         Catch::Contains("snapshot 1") && Catch::Contains("checksum"));
  }
  SECTION("a chunk stored under another chunk's id") {
    tamper(tmp.path(), [&](MDB_txn* txn, const auto& dbi) {
      const MDB_dbi chunks = dbi("chunks");
      unsigned char buf[8], other[8];
      MDB_val k = be_key(leaf, buf), o = be_key(leaf + 1, other), v;
      REQUIRE(mdb_get(txn, chunks, &o, &v) == 0);
      std::vector<std::byte> bytes(static_cast<std::byte*>(v.mv_data),
                                   static_cast<std::byte*>(v.mv_data) + v.mv_size);
      MDB_val w{bytes.size(), bytes.data()};
      REQUIRE(mdb_put(txn, chunks, &k, &w, 0) == 0);
    });
    CHECK_THAT(error_of(), Catch::Contains("chunk " + std::to_string(leaf)) &&
                               Catch::Contains("says it is chunk " + std::to_string(leaf + 1)));
  }
  SECTION("a missing chunk") {
    tamper(tmp.path(), [&](MDB_txn* txn, const auto& dbi) {
      unsigned char buf[8];
      MDB_val k = be_key(leaf, buf);
      REQUIRE(mdb_del(txn, dbi("chunks"), &k, nullptr) == 0);
    });
    CHECK_THAT(error_of(), Catch::Contains("chunk " + std::to_string(leaf)) && Catch::Contains("missing") &&
                               Catch::Contains("\"tree\""));
  }
}

TEST_CASE("a store of format 3 without a chunks database loads unchanged and is raised to 4 by its first chunked write") {
  scratch_dir tmp;
  {
    auto store = snapshot_store::open(tmp.path(), direct());
    store->write_snapshot(storage_test::one_value("plain", 64, 1), true);
  }
  // As a build of format 3 leaves it: no "chunks" database, no next_chunk_id.
  tamper(tmp.path(), [&](MDB_txn* txn, const auto& dbi) { REQUIRE(mdb_drop(txn, dbi("chunks"), 1) == 0); });
  REQUIRE(stored_format(tmp.path()) == format_version_without_chunks);
  // Read-only (nothing added), then writable.
  CHECK(storage_test::run_in_child([&] {
          store_options ro;
          ro.read_only = true;
          auto store = snapshot_store::open(tmp.path(), ro);
          return storage_test::read_all(*store, 1).at("plain") == storage_test::pattern(64, 1) &&
                 store->next_chunk_id() == 1 && store->stats().chunk_count == 0;
        }) == 0);
  {
    auto store = snapshot_store::open(tmp.path(), direct());
    CHECK(storage_test::read_all(*store, 1).at("plain") == storage_test::pattern(64, 1));
    store->write_snapshot(storage_test::one_value("plain", 64, 2), true);  // no chunks: stays 3
  }
  CHECK(stored_format(tmp.path()) == format_version_without_chunks);
  auto store = snapshot_store::open(tmp.path(), direct());
  chunk_tree t(40, 4, 4);
  save_tree(*store, t);
  store.reset();
  CHECK(stored_format(tmp.path()) == format_version);
  store = snapshot_store::open(tmp.path(), direct());
  CHECK(read_tree(*store, 3) == t.seeds());
  CHECK(storage_test::read_all(*store, 3).at("plain") == storage_test::pattern(64, 2));
}

TEST_CASE("saving on an older kept snapshot refers to its chunks -- they stay while a kept snapshot reaches them") {
  scratch_dir tmp;
  auto store = snapshot_store::open(tmp.path(), direct(3));
  chunk_tree t(300, 8, 4);
  kept_trees model;
  model.saved(save_tree(*store, t).id, t, 3);
  const chunk_tree first = t;  // what a reload of snapshot 1 gives
  for (std::uint64_t i = 2; i <= 3; ++i) {
    t.change_leaf(i * 50, 1000 + i);
    model.saved(save_tree(*store, t).id, t, 3);
  }
  // Snapshot 4 builds on snapshot 1: its unchanged chunks, one new path.
  chunk_tree reloaded = first;
  reloaded.change_leaf(7, 4444);
  const snapshot_info fourth = store->write_snapshot(1, reloaded.delta(store->next_chunk_id()), true);
  REQUIRE(fourth.id == 4);
  model.saved(4, reloaded, 3);
  CHECK(store->stats().chunk_count == model.reachable());
  for (const auto& [id, seeds] : model.seeds) CHECK(read_tree(*store, id) == seeds);
  // Two more saves on it prune snapshots 2 and 3: their paths go, snapshot
  // 1's chunks stay as long as snapshot 4's tree reaches them.
  for (std::uint64_t i = 5; i <= 6; ++i) {
    reloaded.change_leaf(i * 40, 1000 + i);
    model.saved(save_tree(*store, reloaded).id, reloaded, 3);
    CHECK(store->stats().chunk_count == model.reachable());
  }
  for (const auto& [id, seeds] : model.seeds) CHECK(read_tree(*store, id) == seeds);
}

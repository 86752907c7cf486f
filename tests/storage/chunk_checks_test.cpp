// The checks a write's chunks pass before anything is written (unknown or
// reused ids, unreferenced new chunks, malformed bytes), the same on the
// direct path and on the journal's (checked when the save is planned,
// against the chunks data.mdb will hold once the journal is in it); and
// chunked saves through the journal, which survive a kill before they reach
// data.mdb.
#include <catch2/catch.hpp>

#include <cstring>
#include <memory>

#include "common/errors.h"
#include "storage/test_hooks.h"
#include "chunk_tree.h"
#include "test_util.h"

using namespace instadump::storage;
using storage_test::chunk_tree;
using storage_test::kBranchType;
using storage_test::kLeafType;
using storage_test::kTreeSchema;
using storage_test::read_tree;
using storage_test::run_in_child;
using storage_test::scratch_dir;

namespace {

struct held_applier {
  held_applier() { testing::hold_journal_applier(true); }
  ~held_applier() { testing::hold_journal_applier(false); }
};

std::vector<std::byte> leaf(std::uint64_t id, std::uint64_t seed) {
  const std::uint64_t payload[2] = {seed, 0};
  return encode_chunk(id, kTreeSchema, kLeafType, {}, kj::arrayPtr(reinterpret_cast<const capnp::word*>(payload), 2));
}

std::vector<std::byte> branch(std::uint64_t id, std::vector<std::uint64_t> children) {
  const std::uint64_t payload[1] = {children.size()};
  return encode_chunk(id, kTreeSchema, kBranchType, children,
                      kj::arrayPtr(reinterpret_cast<const capnp::word*>(payload), 1));
}

// A delta of value "v" with roots `roots` and the chunks `chunks`.
snapshot_delta with_chunks(std::vector<std::uint64_t> roots, const std::vector<std::vector<std::byte>>& chunks) {
  snapshot_delta d;
  new_value v = storage_test::value_of("v", storage_test::pattern(8, roots.size()), kTreeSchema);
  v.chunk_roots = std::move(roots);
  d.put.push_back(std::move(v));
  for (const auto& c : chunks) {
    std::uint64_t id;
    std::memcpy(&id, c.data() + 8, 8);
    d.chunks.push_back(new_chunk{id, c});
  }
  return d;
}

// A new store in `tmp`, writing through the journal or straight into LMDB.
std::unique_ptr<snapshot_store> open_store(const scratch_dir& tmp, bool journal) {
  store_options options;
  options.journal = journal;
  return snapshot_store::open(tmp.path(), options);
}

std::string refusal(snapshot_store& store, const snapshot_delta& d) {
  const std::uint64_t base = store.newest() ? store.newest()->id : 0;
  try {
    store.write_snapshot(base, d, true);
  } catch (const instadump::save_failed& e) {
    return e.what();
  }
  FAIL("the write was not refused");
  return {};
}

}  // namespace

TEST_CASE("chunks that fail the checks refuse the write, and nothing is written, on both paths") {
  for (bool journal : {false, true}) {
    CAPTURE(journal);
    scratch_dir tmp;
    auto store = open_store(tmp, journal);
    // Snapshot 1: chunks 1 (leaf) and 2 (branch over it), root 2.
    store->write_snapshot(0, with_chunks({2}, {leaf(1, 1), branch(2, {1})}), true);
    REQUIRE(store->next_chunk_id() == 3);
    const std::uint64_t chunks_before = (store->flush_journal(), store->stats().chunk_count);
    REQUIRE(chunks_before == 2);

    CHECK_THAT(refusal(*store, with_chunks({2}, {leaf(2, 5)})),
               Catch::Contains("chunk 2 has an id below next_chunk_id() (3)"));
    CHECK_THAT(refusal(*store, with_chunks({4}, {leaf(4, 5), leaf(4, 6)})),
               Catch::Contains("chunk 4 is given twice"));
    CHECK_THAT(refusal(*store, with_chunks({4}, {branch(4, {3})})),
               Catch::Contains("chunk 4 lists child 3, which is neither a new chunk"));
    CHECK_THAT(refusal(*store, with_chunks({4}, {branch(4, {5}), leaf(5, 1)})),
               Catch::Contains("whose id is not smaller than its own"));
    CHECK_THAT(refusal(*store, with_chunks({9}, {})),
               Catch::Contains("value \"v\" refers to chunk 9, which is neither"));
    CHECK_THAT(refusal(*store, with_chunks({2}, {leaf(3, 1)})),
               Catch::Contains("chunk 3 is new, but nothing in the snapshot refers to it"));
    std::vector<std::byte> damaged = leaf(3, 1);
    damaged[50] ^= std::byte{1};
    CHECK_THAT(refusal(*store, with_chunks({3}, {damaged})), Catch::Contains("chunk 3 is not a whole chunk"));
    snapshot_delta no_bytes = with_chunks({2}, {});
    std::get<new_value>(no_bytes.put[0]).size_bytes = 0;
    std::get<new_value>(no_bytes.put[0]).fill = [](std::span<std::byte>) {};
    CHECK_THAT(refusal(*store, no_bytes), Catch::Contains("refers to chunks but has no bytes"));

    // Nothing of the refused writes is there.
    store->flush_journal();
    CHECK(store->snapshot_ids() == std::vector<std::uint64_t>{1});
    CHECK(store->stats().chunk_count == chunks_before);
    CHECK(store->next_chunk_id() == 3);
    // A good write after them goes through (ids with a gap are fine).
    const snapshot_info ok = store->write_snapshot(1, with_chunks({2, 7}, {leaf(7, 9)}), true);
    CHECK(ok.entries[0].chunk_roots == std::vector<std::uint64_t>{2, 7});
    CHECK(store->next_chunk_id() == 8);
  }
}

TEST_CASE("chunks sealed by the caller (chunks_sealed_here) skip only the checksum: layout, ids and links are checked") {
  for (bool journal : {false, true}) {
    CAPTURE(journal);
    scratch_dir tmp;
    auto store = open_store(tmp, journal);
    auto sealed = [](snapshot_delta d) {
      d.chunks_sealed_here = true;
      return d;
    };
    store->write_snapshot(0, sealed(with_chunks({2}, {leaf(1, 1), branch(2, {1})})), true);
    const std::vector<std::vector<std::byte>> three = {leaf(3, 1)};
    std::vector<std::byte> renamed = three[0];
    renamed[8] = std::byte{4};  // its header says chunk 4
    snapshot_delta other_id = sealed(with_chunks({3}, three));
    other_id.chunks[0].bytes = renamed;
    CHECK_THAT(refusal(*store, other_id), Catch::Contains("says it is chunk 4"));
    snapshot_delta cut = sealed(with_chunks({3}, three));
    cut.chunks[0].bytes = cut.chunks[0].bytes.first(36);
    CHECK_THAT(refusal(*store, cut), Catch::Contains("is 36 bytes long"));
    CHECK_THAT(refusal(*store, sealed(with_chunks({4}, {branch(4, {3})}))),
               Catch::Contains("chunk 4 lists child 3, which is neither a new chunk"));
    store->write_snapshot(1, sealed(with_chunks({3}, {leaf(3, 7)})), true);
    store->flush_journal();
    CHECK(store->stats().chunk_count == 3);
  }
}

TEST_CASE("a journaled save may not refer to a chunk that an earlier journaled snapshot's pruning reclaims") {
  scratch_dir tmp;
  store_options options;
  options.keep_generations = 1;
  auto store = snapshot_store::open(tmp.path(), options);
  chunk_tree t(16, 4, 4);
  store->write_snapshot(0, t.delta(store->next_chunk_id()), true);
  store->flush_journal();
  const std::vector<std::uint64_t> first_ids = t.ids();
  const std::uint64_t old_root = t.root();

  held_applier hold;  // the snapshots below stay in the journal
  t.change_leaf(0, 77);
  store->write_snapshot(1, t.delta(store->next_chunk_id()), true);
  // Once snapshot 2 is in data.mdb, snapshot 1 and the root it alone
  // reaches are gone: the journal refuses a value that refers to it now.
  CHECK_THAT(refusal(*store, with_chunks({old_root}, {})),
             Catch::Contains("refers to chunk " + std::to_string(old_root) + ", which is neither"));
  // A chunk both trees share is fine, and so is one journaled before.
  snapshot_delta shared = with_chunks({first_ids.back() - 1, t.root()}, {});
  const snapshot_info info = store->write_snapshot(2, shared, true);
  CHECK(info.id == 3);
  testing::hold_journal_applier(false);
  store->flush_journal();
  CHECK(store->snapshot_ids() == std::vector<std::uint64_t>{3});
  store->read_snapshot(3, [&](const entry_info& e, kj::ArrayPtr<const capnp::word>, const chunk_source& chunks) {
    if (e.key != "v") return;
    CHECK(chunks.get(first_ids.back() - 1).children.size() == 4);
    CHECK(read_tree(chunks, t.root()) == t.seeds());
  });
}

TEST_CASE("a small chunked change goes to the journal and survives a kill before it reaches data.mdb") {
  scratch_dir tmp;
  chunk_tree t(2000, 16, 8);
  {
    auto store = snapshot_store::open(tmp.path(), {});
    store->write_snapshot(0, t.delta(store->next_chunk_id()), true);  // large: directly into data.mdb
  }
  const std::size_t first_chunks = t.ids().size();
  t.change_leaf(1234, 4321);
  t.change_leaf(5, 55);
  const snapshot_delta d = t.delta(t.root() + 1);
  const int child = run_in_child([&] {
    testing::hold_journal_applier(true);  // until the process dies
    auto store = snapshot_store::open(tmp.path(), {});
    if (store->next_chunk_id() != d.chunks.front().id) return false;
    if (store->write_snapshot(1, d, true).id != 2) return false;
    (void)store.release();  // dies with the process, unclosed
    return true;
  });
  REQUIRE(child == 0);
  {
    // Snapshot 2 is in the journal only: a read-only open reads it (its new
    // chunks from the journal, the others from data.mdb) and writes nothing.
    store_options ro;
    ro.read_only = true;
    auto reader = snapshot_store::open(tmp.path(), ro);
    CHECK(reader->snapshot_ids() == std::vector<std::uint64_t>{2, 1});
    CHECK(read_tree(*reader, 2) == t.seeds());
    CHECK(reader->next_chunk_id() == t.root() + 1);
    CHECK(reader->stats().chunk_count == first_chunks + d.chunks.size());
    CHECK(reader->stats().journaled_snapshots == 1);
  }
  auto store = snapshot_store::open(tmp.path(), {});
  CHECK(store->snapshot_ids() == std::vector<std::uint64_t>{2, 1});
  CHECK(read_tree(*store, 2) == t.seeds());
  CHECK(store->next_chunk_id() == t.root() + 1);
  CHECK(store->stats().chunk_count == first_chunks + d.chunks.size());  // snapshot 1 is kept
}

// Reading trees of chunks back in the storage tests (see chunk_tree.h).
#include <catch2/catch.hpp>

#include <cstring>

#include "chunk_tree.h"

namespace storage_test {
namespace {

using instadump::storage::chunk_view;

std::uint64_t word_at(const chunk_view& c, std::size_t i) {
  std::uint64_t v;
  std::memcpy(&v, c.payload.begin() + i, 8);
  return v;
}

void collect(const instadump::storage::chunk_source& chunks, std::uint64_t id, std::vector<std::uint64_t>& seeds) {
  const chunk_view c = chunks.get(id);
  REQUIRE(c.id == id);
  REQUIRE(c.schema == kTreeSchema);
  if (c.node_type == kLeafType) {
    REQUIRE(c.children.empty());
    REQUIRE(c.payload.size() >= 2);
    const std::uint64_t seed = word_at(c, 0);
    REQUIRE(word_at(c, 1) == seeds.size());
    for (std::size_t k = 2; k < c.payload.size(); ++k) REQUIRE(word_at(c, k) == leaf_word(seed, seeds.size(), k));
    seeds.push_back(seed);
    return;
  }
  REQUIRE(c.node_type == kBranchType);
  REQUIRE(c.payload.size() == 1);
  REQUIRE(word_at(c, 0) == c.children.size());
  // (The span points into the chunk, which stays valid during the visit.)
  for (std::uint64_t child : c.children) {
    REQUIRE(child < id);
    collect(chunks, child, seeds);
  }
}

void collect_ids(const instadump::storage::chunk_source& chunks, std::uint64_t id, std::set<std::uint64_t>& ids) {
  if (!ids.insert(id).second) return;
  const chunk_view c = chunks.get(id);
  const std::vector<std::uint64_t> children(c.children.begin(), c.children.end());
  for (std::uint64_t child : children) collect_ids(chunks, child, ids);
}

}  // namespace

std::vector<std::uint64_t> read_tree(const instadump::storage::chunk_source& chunks, std::uint64_t root) {
  std::vector<std::uint64_t> seeds;
  collect(chunks, root, seeds);
  return seeds;
}

std::set<std::uint64_t> reachable_chunks(const instadump::storage::snapshot_store& store) {
  std::set<std::uint64_t> ids;
  for (std::uint64_t snapshot : store.snapshot_ids()) {
    store.read_snapshot(snapshot, [&](const instadump::storage::entry_info& e, kj::ArrayPtr<const capnp::word>,
                                      const instadump::storage::chunk_source& chunks) {
      for (std::uint64_t root : e.chunk_roots) collect_ids(chunks, root, ids);
    });
  }
  return ids;
}

std::vector<std::uint64_t> read_tree(const instadump::storage::snapshot_store& store, std::uint64_t id,
                                     const std::string& key) {
  std::vector<std::uint64_t> seeds;
  bool found = false;
  store.read_snapshot(id, [&](const instadump::storage::entry_info& e, kj::ArrayPtr<const capnp::word> words,
                              const instadump::storage::chunk_source& chunks) {
    if (e.key != key) return;
    found = true;
    REQUIRE(words.size() == 1);
    std::uint64_t root;
    std::memcpy(&root, words.begin(), 8);
    REQUIRE(e.chunk_roots == std::vector<std::uint64_t>{root});
    seeds = read_tree(chunks, root);
  });
  REQUIRE(found);
  return seeds;
}

}  // namespace storage_test

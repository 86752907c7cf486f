// A tree of chunks for the storage tests (see chunk_tree.h).
#include "chunk_tree.h"

#include <catch2/catch.hpp>

#include <cstring>

#include "test_util.h"

namespace storage_test {
namespace {

using instadump::storage::chunk_view;
using instadump::storage::encode_chunk;

std::uint64_t mix(std::uint64_t seed, std::uint64_t index, std::uint64_t k) {
  std::uint64_t x = (seed * 0x9E3779B97F4A7C15ull) ^ (index << 20) ^ k;
  x ^= x >> 31;
  return x * 0xBF58476D1CE4E5B9ull;
}

std::vector<std::uint64_t> leaf_payload(std::uint64_t seed, std::uint64_t index, std::size_t words) {
  std::vector<std::uint64_t> w(words);
  w[0] = seed;
  w[1] = index;
  for (std::size_t k = 2; k < words; ++k) w[k] = mix(seed, index, k);
  return w;
}

kj::ArrayPtr<const capnp::word> as_words(std::span<const std::uint64_t> w) {
  return kj::arrayPtr(reinterpret_cast<const capnp::word*>(w.data()), w.size());
}

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
    for (std::size_t k = 2; k < c.payload.size(); ++k) REQUIRE(word_at(c, k) == mix(seed, seeds.size(), k));
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

chunk_tree::chunk_tree(std::size_t leaves, std::size_t fanout, std::size_t leaf_words)
    : fanout_(fanout), leaf_words_(leaf_words) {
  levels_.emplace_back(leaves);
  for (std::size_t i = 0; i < leaves; ++i) levels_[0][i].seed = i + 1;
  while (levels_.back().size() > 1) levels_.emplace_back((levels_.back().size() + fanout - 1) / fanout);
  if (leaves == 1) levels_.emplace_back(1);  // a root branch even over one leaf
}

void chunk_tree::change_leaf(std::size_t i, std::uint64_t seed) {
  levels_[0][i].seed = seed;
  for (std::size_t level = 0; level < levels_.size(); ++level, i /= fanout_) levels_[level][i].dirty = true;
}

instadump::storage::snapshot_delta chunk_tree::delta(std::uint64_t next_chunk_id, const std::string& key) {
  written_.clear();
  std::uint64_t id = next_chunk_id;
  for (std::size_t level = 0; level < levels_.size(); ++level) {
    for (std::size_t j = 0; j < levels_[level].size(); ++j) {
      node& n = levels_[level][j];
      if (!n.dirty) continue;
      n.id = id++;
      n.dirty = false;
      if (level == 0) {
        const std::vector<std::uint64_t> payload = leaf_payload(n.seed, j, leaf_words_);
        written_.push_back(encode_chunk(n.id, kTreeSchema, kLeafType, {}, as_words(payload)));
        continue;
      }
      const std::vector<node>& below = levels_[level - 1];
      std::vector<std::uint64_t> children;
      for (std::size_t c = j * fanout_; c < std::min(below.size(), (j + 1) * fanout_); ++c) {
        children.push_back(below[c].id);
      }
      const std::uint64_t count = children.size();
      written_.push_back(encode_chunk(n.id, kTreeSchema, kBranchType, children, as_words({&count, 1})));
    }
  }
  instadump::storage::snapshot_delta d;
  for (const std::vector<std::byte>& bytes : written_) {
    std::uint64_t chunk_id;
    std::memcpy(&chunk_id, bytes.data() + 8, 8);
    d.chunks.push_back(instadump::storage::new_chunk{chunk_id, bytes});
  }
  std::vector<std::byte> descriptor(8);
  const std::uint64_t r = root();
  std::memcpy(descriptor.data(), &r, 8);
  instadump::storage::new_value v = value_of(key, std::move(descriptor), kTreeSchema);
  v.chunk_roots = {r};
  d.put.push_back(std::move(v));
  return d;
}

std::vector<std::uint64_t> chunk_tree::seeds() const {
  std::vector<std::uint64_t> out;
  out.reserve(levels_[0].size());
  for (const node& n : levels_[0]) out.push_back(n.seed);
  return out;
}

std::vector<std::uint64_t> chunk_tree::ids() const {
  std::vector<std::uint64_t> out;
  for (const auto& level : levels_) {
    for (const node& n : level) out.push_back(n.id);
  }
  return out;
}

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

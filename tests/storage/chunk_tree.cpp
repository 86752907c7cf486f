// A tree of chunks shaped like a persistent collection's (see chunk_tree.h).
#include "chunk_tree.h"

#include <algorithm>
#include <cstring>

namespace storage_test {
namespace {

using instadump::storage::encode_chunk;

std::vector<std::uint64_t> leaf_payload(std::uint64_t seed, std::uint64_t index, std::size_t words) {
  std::vector<std::uint64_t> w(words);
  for (std::size_t k = 0; k < words; ++k) w[k] = leaf_word(seed, index, k);
  return w;
}

kj::ArrayPtr<const capnp::word> as_words(std::span<const std::uint64_t> w) {
  return kj::arrayPtr(reinterpret_cast<const capnp::word*>(w.data()), w.size());
}

}  // namespace

std::uint64_t leaf_word(std::uint64_t seed, std::uint64_t index, std::size_t k) {
  if (k == 0) return seed;
  if (k == 1) return index;
  std::uint64_t x = (seed * 0x9E3779B97F4A7C15ull) ^ (index << 20) ^ k;
  x ^= x >> 31;
  return x * 0xBF58476D1CE4E5B9ull;
}

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
  key_ = key;
  const std::uint64_t r = root();
  std::memcpy(value_.data(), &r, 8);
  instadump::storage::new_value v;
  v.key = key_;
  v.schema = kTreeSchema;
  v.size_bytes = value_.size();
  v.bytes = value_;
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

}  // namespace storage_test

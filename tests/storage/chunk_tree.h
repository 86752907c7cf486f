// A tree of chunks shaped like a persistent collection's (leaves of
// elements under levels of branches), built directly with encode_chunk, for
// the storage tests of chunks: no codegen, no collections. It remembers
// which leaves changed and writes, like a save would, only the new leaves
// and the new path of branches above them; everything else is referred to
// by id.
//
// A leaf's payload is words leaf_word(seed, leaf index, k); a branch's
// payload is one word: the number of its children. read_tree() walks a
// stored tree and checks every payload against that rule, so a chunk that
// comes back other than it was written is noticed. (The model, chunk_tree.cpp,
// needs no test framework: bench/ uses it too; the reading side,
// chunk_tree_read.cpp, checks with Catch.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "storage/chunk_format.h"
#include "storage/snapshot_store.h"

namespace storage_test {

inline constexpr std::uint64_t kLeafType = 0xA11CE0000000001Aull;
inline constexpr std::uint64_t kBranchType = 0xB4A7C00000000002ull;
inline constexpr instadump::storage::schema_identity kTreeSchema{0x5EED5EED, 3};

// Word k of the payload of leaf `index` with seed `seed`: the seed, the
// index, then words mixed from both.
std::uint64_t leaf_word(std::uint64_t seed, std::uint64_t index, std::size_t k);

class chunk_tree {
 public:
  // `leaves` leaves of `leaf_words` words each (at least 2), under branches
  // of `fanout` children, up to one root. Leaf i starts with seed i + 1.
  chunk_tree(std::size_t leaves, std::size_t fanout, std::size_t leaf_words);

  // Changes leaf `i` to `seed` (written by the next delta()).
  void change_leaf(std::size_t i, std::uint64_t seed);

  // The write of what changed since the last delta() (at first: all of it)
  // as value `key` that refers to the root: its chunks, with ids from
  // `next_chunk_id` on, children before parents. The chunks' bytes live in
  // this object until the next delta().
  instadump::storage::snapshot_delta delta(std::uint64_t next_chunk_id, const std::string& key = "tree");

  std::uint64_t root() const { return levels_.back().front().id; }
  // The seed of each leaf, in order, as of the last delta().
  std::vector<std::uint64_t> seeds() const;
  // The ids of every chunk of the tree, as of the last delta().
  std::vector<std::uint64_t> ids() const;

 private:
  struct node {
    std::uint64_t id = 0;
    std::uint64_t seed = 0;  // leaves only
    bool dirty = true;
  };
  std::size_t fanout_;
  std::size_t leaf_words_;
  std::vector<std::vector<node>> levels_;  // [0]: leaves; back(): the root alone
  std::vector<std::vector<std::byte>> written_;
  std::string key_;
  std::vector<std::byte> value_ = std::vector<std::byte>(8);  // the root's id
};

// The leaf seeds of the tree under chunk `root`, read through `chunks`;
// checks every chunk's schema, type and payload (REQUIREs them).
std::vector<std::uint64_t> read_tree(const instadump::storage::chunk_source& chunks, std::uint64_t root);

// Reading (chunk_tree_read.cpp, with Catch):

// The ids of every chunk the kept snapshots of `store` reach from their
// values' chunk roots (following children).
std::set<std::uint64_t> reachable_chunks(const instadump::storage::snapshot_store& store);

// The leaf seeds of the tree under value `key` of snapshot `id` (whose value
// names its root in its bytes and in its chunk roots).
std::vector<std::uint64_t> read_tree(const instadump::storage::snapshot_store& store, std::uint64_t id,
                                     const std::string& key = "tree");

}  // namespace storage_test

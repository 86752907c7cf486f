// collection_chunks: a persistent collection saved as one stored chunk per
// node (a B+-tree's lowest branch and its leaves as one, a leaf group), and
// built back from its chunks, whatever a chunk's encoding.
//
// Not for applications: generated codecs call these with a writer or a
// reader that encodes or decodes one node's chunk (its payload is the
// generated schema's leaf or branch struct; see docs/FORMAT.md).
//
// Saving visits the tree from its root. A node whose chunk can be referred
// to is not visited further (its chunk id stands for the whole subtree);
// every other node is written, children first, and gets a new chunk id
// from the writer. Which nodes may be referred to is the safety rule of
// docs/ARCHITECTURE.md ("Big state"): a node carries the tag of the chunk it
// was stored as (epoch << 44 | id, set by the session once the store
// accepted the snapshot, or by a load); the tag counts only when it is of
// the session's current epoch AND the same node sits at the same position
// (same height, same first key or first index) in `previous`, the value the
// state had in the snapshot this save builds on. Then the chunk is
// reachable from that snapshot, which the store keeps until the new
// snapshot's references are counted. A node put back from an older copy, or
// tagged by another store or session, is written again instead: no index of
// chunk ids is needed, and a stale id can never be written.
//
// Loading builds each chunk's node bottom-up through the access API's
// builders (btree_access, pvector_access), which check every bound, order
// and size; recursion is bounded by the collections' maximum height, so a
// damaged store (a cycle, a wrong height) throws corrupt_data, never
// misbuilds. Loaded nodes get the tag of the chunk they came from, so the
// first save after a load writes only what changed.
module;
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/errors.h"
export module instadump:collection_chunks;
import :pnode;
import :btree_access;
import :pvector_access;

export namespace instadump::detail {

// A node's stored tag: the session epoch that stored (or loaded) it and its
// chunk id. Epochs change at every setup, so a tag left from an earlier
// setup (possibly of another directory) reads as "not stored".
struct chunk_tags {
  static constexpr unsigned id_bits = 44;
  static constexpr std::uint64_t max_id = (std::uint64_t{1} << id_bits) - 1;
  static constexpr std::uint64_t max_epoch = (std::uint64_t{1} << (64 - id_bits)) - 1;

  // REQUIRES: 1 <= id <= max_id, 1 <= epoch <= max_epoch.
  static constexpr std::uint64_t pack(std::uint64_t epoch, std::uint64_t id) noexcept {
    return epoch << id_bits | id;
  }
  // The chunk id in `tag` if it was set in `epoch`, else 0.
  static constexpr std::uint64_t id_of(std::uint64_t tag, std::uint64_t epoch) noexcept {
    return tag >> id_bits == epoch ? tag & max_id : 0;
  }
};

// One node's chunk as a reader found it: a leaf or a leaf group (built
// already, with the access API's builders) or a branch (its children's
// chunk ids and the subtree sizes it claims for them).
template <class NodeRef>
struct read_node {
  NodeRef leaf;                          // set for a leaf or a leaf group (a lowest branch)
  std::vector<std::uint64_t> children;   // a branch's children, in order
  std::vector<std::uint64_t> sizes;      // their subtree sizes (as many as children)
};

// Builds the nodes of one stored tree bottom-up (Access: any of the access
// APIs). Reader: read_node<node_ref> read(std::uint64_t id) -- a leaf built
// with the access API's leaf builder, or a branch's children. Every node
// built is tagged with (epoch, its chunk id). Throws corrupt_data for a tree
// the access API refuses, a size a branch claims wrongly, or a tree deeper
// than max_height (which a cycle of ids would be).
template <class Access>
class chunk_loading {
 public:
  using node_ref = typename Access::node_ref;

  template <class Reader>
  static node_ref load(std::uint64_t id, Reader& r, std::uint64_t epoch) {
    return load_at(id, r, epoch, 0);
  }

 private:
  template <class Reader>
  static node_ref load_at(std::uint64_t id, Reader& r, std::uint64_t epoch, std::size_t depth) {
    if (depth > Access::max_height) {
      throw corrupt_data("chunk " + std::to_string(id) + " is deeper than any stored collection can be (a cycle?)");
    }
    read_node<node_ref> got = r.read(id);
    node_ref built;
    if (got.leaf) {
      built = std::move(got.leaf);
    } else {
      std::vector<node_ref> children;
      children.reserve(got.children.size());
      for (std::size_t i = 0; i < got.children.size(); ++i) {
        children.push_back(load_at(got.children[i], r, epoch, depth + 1));
        if (i >= got.sizes.size() || got.sizes[i] != Access::subtree_size(children.back().get())) {
          throw corrupt_data("chunk " + std::to_string(id) + " claims a size for child " + std::to_string(i) +
                             " that its chunk " + std::to_string(got.children[i]) + " does not hold");
        }
      }
      built = Access::make_branch(children);
    }
    Access::set_stored_tag(built.get(), chunk_tags::pack(epoch, id));
    return built;
  }
};

// --- B+-trees: pmap and pset (Access is pmap_access<K, V> or pset_access<K>) ---

template <class Access>
class btree_chunks {
 public:
  using node = node_header;
  using node_ref = typename Access::node_ref;

  // Saves the tree under `root` (not null); returns the root's chunk id.
  // `previous_root`: the tree of the state's previous value (null if none).
  // Writer: std::uint64_t leaf(const node*),
  // std::uint64_t group(const node*) (a lowest branch and its leaves as one
  // chunk) and
  // std::uint64_t branch(const node*, std::span<const std::uint64_t> children)
  // write one node's chunk and return its new id. A lowest branch is
  // written as one group rather than a chunk per leaf: a tree of a million
  // entries is then ~9,000 chunks, not ~70,000, which is what its first
  // save and its load cost (a change under a group rewrites the group, but
  // scattered changes are saved as deltas, see chunk_deltas.cppm).
  template <class Writer>
  static std::uint64_t save(const node* root, const node* previous_root, std::uint64_t epoch, Writer& w) {
    if (std::uint64_t id = reusable(root, previous_root, epoch)) return id;
    if (Access::is_leaf(root)) return w.leaf(root);
    if (Access::height(root) == 1) return w.group(root);
    std::vector<std::uint64_t> ids(Access::count(root));
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = save(Access::child(root, i), previous_root, epoch, w);
    return w.branch(root, ids);
  }

  // Builds the tree stored under chunk `id` (see chunk_loading).
  template <class Reader>
  static node_ref load(std::uint64_t id, Reader& r, std::uint64_t epoch) {
    return chunk_loading<Access>::load(id, r, epoch);
  }

 private:
  // The chunk id of `n` if the safety rule lets this save refer to it, else 0.
  static std::uint64_t reusable(const node* n, const node* previous_root, std::uint64_t epoch) {
    std::uint64_t id = chunk_tags::id_of(Access::stored_tag(n), epoch);
    if (id == 0 || !previous_root) return 0;
    const node* leaf = n;
    while (!Access::is_leaf(leaf)) leaf = Access::child(leaf, 0);
    const auto& first = Access::keys(leaf)[0];
    const node* p = previous_root;
    if (Access::height(p) < Access::height(n)) return 0;
    while (Access::height(p) > Access::height(n)) {
      auto separators = Access::keys(p);  // child i covers [separators[i-1], separators[i])
      std::size_t i = static_cast<std::size_t>(std::upper_bound(separators.begin(), separators.end(), first,
                                                                std::less<>{}) - separators.begin());
      p = Access::child(p, i);
    }
    return p == n ? id : 0;
  }
};

// --- The trie of a pvector (Access is pvector_access<T>) ---

template <class Access>
class trie_chunks {
 public:
  using node = node_header;
  using node_ref = typename Access::node_ref;

  // A vector's stored parts: its trie's root chunk and its tail's (0 for
  // none).
  struct ids {
    std::uint64_t root = 0;
    std::uint64_t tail = 0;
  };

  // Saves the trie `root` and the tail `tail` (either may be null) of a
  // vector whose previous value had `previous_root` and `previous_tail`.
  // Writer: as for btree_chunks::save.
  template <class Writer>
  static ids save(const node* root, const node* tail, const node* previous_root, const node* previous_tail,
                  std::uint64_t tail_offset, std::uint64_t previous_tail_offset, std::uint64_t epoch, Writer& w) {
    ids out;
    if (root) out.root = save_trie(root, 0, previous_root, epoch, w);
    if (tail) {
      std::uint64_t id = chunk_tags::id_of(Access::stored_tag(tail), epoch);
      bool same = id != 0 && tail == previous_tail && tail_offset == previous_tail_offset;
      out.tail = same ? id : w.leaf(tail);
    }
    return out;
  }

  // Builds the node stored under chunk `id`, the trie's root or the tail
  // (see chunk_loading).
  template <class Reader>
  static node_ref load(std::uint64_t id, Reader& r, std::uint64_t epoch) {
    return chunk_loading<Access>::load(id, r, epoch);
  }

 private:
  template <class Writer>
  static std::uint64_t save_trie(const node* n, std::uint64_t first, const node* previous_root, std::uint64_t epoch,
                                 Writer& w) {
    if (std::uint64_t id = reusable(n, first, previous_root, epoch)) return id;
    if (Access::is_leaf(n)) return w.leaf(n);
    std::vector<std::uint64_t> children(Access::count(n));
    for (std::size_t i = 0; i < children.size(); ++i) {
      const node* c = Access::child(n, i);
      children[i] = save_trie(c, first, previous_root, epoch, w);
      first += Access::subtree_size(c);
    }
    return w.branch(n, children);
  }

  // As btree_chunks::reusable, by the index of the node's first element.
  static std::uint64_t reusable(const node* n, std::uint64_t first, const node* previous_root, std::uint64_t epoch) {
    std::uint64_t id = chunk_tags::id_of(Access::stored_tag(n), epoch);
    if (id == 0 || !previous_root || Access::height(previous_root) < Access::height(n)) return 0;
    const node* p = previous_root;
    while (Access::height(p) > Access::height(n)) {
      std::size_t i = (first / Access::nodes::capacity(static_cast<unsigned>(Access::height(p) - 1))) % Access::width;
      if (i >= Access::count(p)) return 0;
      p = Access::child(p, i);
    }
    return p == n ? id : 0;
  }
};

}  // namespace instadump::detail

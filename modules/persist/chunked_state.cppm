// chunked_state: a state whose type is a pmap or a pset saved node by node
// as the store's chunks (formats 4-6), and loaded back from them; the payloads
// and the chunk I/O that pvector states share (chunked_vector_state.cppm).
//
// The value itself is stored as a small descriptor (the root chunk and the
// number of entries); each node of the tree is one chunk, except that a
// B+-tree's lowest branch and its leaves are one (a leaf group, format 6).
// A leaf's or a group's payload is the state's own message -- what the
// state's codec writes for a collection holding just its entries -- so they
// are written and read with the codec the state already has (generated or
// hand-written), under the schema identity they were written with: a stored
// leaf of an older schema version loads through the codec's migrations like
// any value. A branch chunk lists its children in the chunk header and their
// subtree sizes in its payload. Which nodes a save may refer to instead of writing
// them is collection_chunks' safety rule (epoch + same node at the same
// position in the value the base snapshot holds).
//
// The descriptor and branch payloads are Cap'n Proto messages of two fixed
// structs (docs/FORMAT.md, "Collections stored node by node"), written and
// read word by word here: they never change shape.
module;
#include "instadump/capnp_compat.h"
#include <capnp/message.h>
#include <capnp/serialize.h>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/errors.h"
#include "storage/chunk_format.h"
#include "storage/snapshot_store.h"
#include "storage/snapshot_types.h"
#include "storage/value_message.h"
export module instadump:chunked_state;
import :version;
import :pnode;
import :pmap;
import :pset;
import :btree_access;
import :collection_chunks;
import :chunk_sink;
import :chunk_deltas;

export namespace instadump::detail {

static_assert(std::endian::native == std::endian::little, "Cap'n Proto words are little-endian");

// The payload types of the chunks (storage::chunk_view::node_type) and of a
// collection value's bytes. A leaf's payload is a message of its chunk's
// schema (the state's root struct); these two are fixed structs.
struct chunk_payloads {
  static constexpr std::uint64_t leaf_type = 0;  // the state's root struct, in the chunk's schema
  static constexpr std::uint64_t branch_type = 0xb6f1c0a7e41d2c95ull;      // ChunkBranch
  // Format 6: a pmap's or pset's lowest branch and its leaves, as the state's
  // message for a collection of their entries (the loader chooses the leaves).
  static constexpr std::uint64_t group_type = 0x8f4d2b6e1c7a3059ull;
  static constexpr std::uint64_t collection_type = 0xd2a4e86b1f0c3b77ull;  // ChunkedCollection

  // ChunkedCollection {root @0 :UInt64; size @1 :UInt64; tail @2 :UInt64;
  // delta @3 :UInt64} as one segment: the root pointer, then the data words.
  // A value without deltas is written without the fourth (as builds before
  // deltas wrote every descriptor), so its data section is 3 or 4 words.
  static constexpr std::size_t descriptor_words = 5;  // at most
  // A collection value's parts: its root chunk (0 for a pvector whose
  // elements are all in its tail), its number of entries, a pvector's tail
  // chunk (0 for a pmap or pset), and the newest link of the deltas saved
  // since the root's tree (chunk_deltas.cppm; 0: none). All 0: an empty
  // collection, which is stored as a plain value instead.
  struct descriptor {
    std::uint64_t root = 0;
    std::uint64_t size = 0;
    std::uint64_t tail = 0;
    std::uint64_t delta = 0;
  };
  // Writes `d` to the start of `out`; returns how many words it took.
  static std::size_t write_descriptor(std::span<capnp::word, descriptor_words> out, const descriptor& d) noexcept {
    const std::uint64_t data_words = d.delta ? 4 : 3;
    const std::uint64_t w[descriptor_words] = {data_words << 32, d.root, d.size, d.tail, d.delta};
    std::memcpy(out.data(), w, (1 + data_words) * sizeof(std::uint64_t));
    return 1 + data_words;
  }
  // The chunks a descriptor refers to (a value's chunk roots): the root,
  // the tail, then the newest delta, each if it has one.
  static std::vector<std::uint64_t> roots_of(const descriptor& d) {
    std::vector<std::uint64_t> out;
    if (d.root) out.push_back(d.root);
    if (d.tail) out.push_back(d.tail);
    if (d.delta) out.push_back(d.delta);
    return out;
  }
  // Throws corrupt_data naming `where` when `words` are not a descriptor.
  static descriptor read_descriptor(kj::ArrayPtr<const capnp::word> words, const std::string& where) {
    std::uint64_t w[descriptor_words] = {};
    if (words.size() != 4 && words.size() != 5) {
      throw corrupt_data(where + ": a collection stored node by node has a descriptor of " +
                         std::to_string(words.size()) + " words, not 4 or 5");
    }
    std::memcpy(w, words.begin(), words.size() * sizeof(capnp::word));
    if (w[0] != std::uint64_t{words.size() - 1} << 32) {
      throw corrupt_data(where + ": the descriptor of a collection stored node by node does not start with its "
                         "root pointer");
    }
    if (words.size() == 5 && w[4] == 0) {
      throw corrupt_data(where + ": the descriptor of a collection stored node by node has room for deltas but "
                         "names none");
    }
    return {w[1], w[2], w[3], w[4]};
  }

  // ChunkBranch {sizes @0 :List(UInt64)}: the subtree size of each child.
  static std::vector<capnp::word> branch(std::span<const std::uint64_t> sizes) {
    return uint64_list_payload::write(sizes);
  }
  static std::vector<std::uint64_t> read_branch(kj::ArrayPtr<const capnp::word> words, std::size_t children,
                                                std::uint64_t id) {
    auto sizes = uint64_list_payload::read(words, children);
    if (!sizes) {
      throw corrupt_data("chunk " + std::to_string(id) + " is not a branch of " + std::to_string(children) +
                         " children (its payload does not list their sizes)");
    }
    return std::move(*sizes);
  }
};

// What saving a state node by node wrote: its descriptor (all 0: the value
// is empty and stored as a plain value), the history the next save builds
// on, and whether the chunks hold the value's whole tree now (no deltas).
struct chunked_save {
  chunk_payloads::descriptor d;
  chunk_history history;
  bool tree_saved = true;
  // A struct state whose members are stored node by node
  // (chunked_members.cppm): its value's bytes (ChunkedMembers) and their
  // chunk roots, used instead of `d` when not empty; each member's history
  // (by member); and, when some members saved their trees and others
  // deltas, the value whose members are the trees the store holds now (one
  // hold: neither the value saved nor the previous tree is that). Its
  // `tree_saved` is then false.
  kj::Array<capnp::word> members_value;
  std::vector<std::uint64_t> members_roots;
  std::vector<chunk_history> member_histories;
  held_version members_tree;

  // A collection state's save (not a struct's).
  static chunked_save of(const chunk_payloads::descriptor& d, const chunk_history& history, bool tree_saved) {
    chunked_save out;
    out.d = d;
    out.history = history;
    out.tree_saved = tree_saved;
    return out;
  }
};

// A value built from its chunks, and its history. (Its tagged nodes are
// the stored tree's, where that tree has them: the value stands for the
// tree in the safety rule, deltas applied or not.)
template <class T>
struct chunked_load {
  T value;
  chunk_history history;
};

// A state's nodes as chunks: leaves and leaf groups written and read with
// the state's codec (their payload is the codec's message for a collection
// of just their elements), branches as ChunkBranch. Leaves (the collection
// kind) provides `using access`, `static T alone(const node_header* n)` (the
// node's subtree as a collection of its own, sharing it),
// `static const node_header* only_leaf(const T&)` (the leaf a decoded
// collection of one leaf consists of, or null if it is not one) and, for a
// kind stored with leaf groups, `static node_ref lowest_branch(const T&)`
// (access::lowest_branch of the decoded group).
template <class T, class Leaves>
struct state_node_io {
  using access = typename Leaves::access;
  using node_ref = typename access::node_ref;
  // (Functions, not pointers: a member of a struct state stored node by
  // node encodes its leaves as the struct's message: chunked_members.cppm.)
  using encode_fn = std::function<void(const T&, capnp::MessageBuilder&)>;
  using decode_fn = std::function<T(capnp::MessageReader&, const storage::schema_identity&)>;

  // The writer of collection_chunks' save.
  struct writer {
    const storage::schema_identity& schema;
    const encode_fn& encode;
    chunk_sink& sink;

    std::uint64_t leaf(const node_header* n) { return encoded(n, chunk_payloads::leaf_type); }
    std::uint64_t group(const node_header* n) { return encoded(n, chunk_payloads::group_type); }
    std::uint64_t branch(const node_header* n, std::span<const std::uint64_t> children) {
      std::vector<std::uint64_t> sizes(children.size());
      for (std::size_t i = 0; i < sizes.size(); ++i) sizes[i] = access::subtree_size(access::child(n, i));
      const std::vector<capnp::word> payload = chunk_payloads::branch(sizes);
      return sink.add(schema, chunk_payloads::branch_type, children,
                      kj::ArrayPtr<const capnp::word>(payload.data(), payload.size()), n);
    }

   private:
    std::uint64_t encoded(const node_header* n, std::uint64_t node_type) {
      const T alone = Leaves::alone(n);
      return sink.add_encoded(
          schema, node_type, [&](capnp::MessageBuilder& message) { encode(alone, message); }, n);
    }
  };

  // The reader of collection_chunks' load. Throws corrupt_data for a chunk
  // that is neither a branch nor one leaf (or leaf group) of this
  // collection kind.
  struct reader {
    const storage::chunk_source& chunks;
    const decode_fn& decode;
    std::uint64_t bytes_read = 0;  // the chunks read, as stored (chunk_history::tree_bytes)

    read_node<node_ref> read(std::uint64_t id) {
      const storage::chunk_view c = chunks.get(id);
      bytes_read += storage::chunk_bytes(c.children.size(), c.payload.size());
      if (c.node_type == chunk_payloads::branch_type) {
        std::vector<std::uint64_t> children(c.children.begin(), c.children.end());
        std::vector<std::uint64_t> sizes = chunk_payloads::read_branch(c.payload, children.size(), id);
        return {{}, std::move(children), std::move(sizes)};
      }
      if constexpr (requires(const T& v) { Leaves::lowest_branch(v); }) {
        if (c.node_type == chunk_payloads::group_type && c.children.empty()) {
          const T group = decode_payload(c);
          try {
            return {Leaves::lowest_branch(group), {}, {}};
          } catch (const corrupt_data& e) {
            throw corrupt_data("chunk " + std::to_string(id) + ": " + e.what());
          }
        }
      }
      if (c.node_type != chunk_payloads::leaf_type || !c.children.empty()) {
        throw corrupt_data("chunk " + std::to_string(id) + " is neither a leaf nor a branch of a collection");
      }
      const T alone = decode_payload(c);
      const node_header* leaf = Leaves::only_leaf(alone);
      if (!leaf) throw corrupt_data("chunk " + std::to_string(id) + " does not hold one leaf of a collection");
      return {node_ref::share(const_cast<node_header*>(leaf)), {}, {}};
    }

   private:
    T decode_payload(const storage::chunk_view& c) {
      storage::value_message message(c.payload, false, storage::reader_options_for(c.payload.size()));
      return decode(message.reader(), c.schema);
    }
  };
};

// Which state types are stored node by node (pvector's specialization is in
// chunked_vector_state.cppm); `chunks` saves and loads one.
template <class T>
struct chunked_traits {
  static constexpr bool chunked = false;
};

// Saving and loading a pmap or pset state (T, with access API Access) node
// by node, with the state's codec for the leaves.
template <class T, class Access>
class btree_state_chunks {
  struct leaves {
    using access = Access;
    static T alone(const node_header* n) {
      return Access::assemble(Access::node_ref::share(const_cast<node_header*>(n)), Access::subtree_size(n));
    }
    static const node_header* only_leaf(const T& value) {
      const node_header* leaf = Access::root(value);
      return leaf && Access::is_leaf(leaf) ? leaf : nullptr;
    }
    static typename Access::node_ref lowest_branch(const T& group) { return Access::lowest_branch(Access::root(group)); }
  };
  using io = state_node_io<T, leaves>;
  using deltas = collection_deltas<T, Access>;

 public:
  using encode_fn = typename io::encode_fn;
  using decode_fn = typename io::decode_fn;

  // Saves `value`: as a delta on `previous` (the value saved last) when
  // chunk_deltas' rules allow, else its nodes that `tree` (the value whose
  // tree the store holds, or null) does not let it refer to.
  static chunked_save save(const T& value, const T* previous, const T* tree, const chunk_history& h,
                           std::uint64_t epoch, const storage::schema_identity& schema, const encode_fn& encode,
                           chunk_sink& sink) {
    const node_header* root = Access::root(value);
    if (!root) return {};
    if (previous && tree) {
      if (auto after = deltas::save(value, *previous, *tree, h, schema, encode, sink)) {
        return chunked_save::of({after->tree_root, value.size(), 0, after->delta_head}, *after, false);
      }
    }
    typename io::writer w{schema, encode, sink};
    const std::uint64_t bytes_before = sink.bytes();
    const std::uint64_t id = btree_chunks<Access>::save(root, tree ? Access::root(*tree) : nullptr, epoch, w);
    const std::uint64_t tree_bytes = std::max(tree ? h.tree_bytes : 0, sink.bytes() - bytes_before);
    return chunked_save::of({id, value.size(), 0, 0},
                            {.tree_root = id, .tree_bytes = tree_bytes, .basis_is_tree = true}, true);
  }

  // The value `d` describes; every node built from a tree chunk is tagged
  // (epoch, its chunk). Throws corrupt_data for damage.
  static chunked_load<T> load(const chunk_payloads::descriptor& d, const storage::chunk_source& chunks,
                              std::uint64_t epoch, const decode_fn& decode) {
    if (d.tail != 0) {
      throw corrupt_data("the descriptor of a map or set names a tail chunk (" + std::to_string(d.tail) +
                         "), which only a vector has");
    }
    typename io::reader r{chunks, decode};
    typename Access::node_ref root = btree_chunks<Access>::load(d.root, r, epoch);
    const chunk_history tree_history{.tree_root = d.root, .tree_bytes = r.bytes_read, .basis_is_tree = d.delta == 0};
    if (d.delta == 0) return {Access::assemble(std::move(root), d.size), tree_history};
    const std::uint64_t tree_size = Access::subtree_size(root.get());
    chunked_load<T> out{Access::assemble(std::move(root), tree_size), tree_history};
    out.value = deltas::load(std::move(out.value), d.delta, chunks, decode, out.history);
    if (out.value.size() != d.size) {
      throw corrupt_data("a stored collection claims " + std::to_string(d.size) + " entries but its tree and deltas "
                         "(chunk " + std::to_string(d.delta) + ") hold " + std::to_string(out.value.size()));
    }
    return out;
  }
};

template <class K, class V>
struct chunked_traits<pmap<K, V>> {
  static constexpr bool chunked = true;
  using chunks = btree_state_chunks<pmap<K, V>, pmap_access<K, V>>;
};
template <class K>
struct chunked_traits<pset<K>> {
  static constexpr bool chunked = true;
  using chunks = btree_state_chunks<pset<K>, pset_access<K>>;
};

}  // namespace instadump::detail

// chunked_vector_state: a state whose type is a pvector saved node by node,
// like pmap and pset states (chunked_state.cppm): each node of the trie and
// the tail leaf is one chunk. The descriptor names the trie's root chunk (0
// when every element is in the tail) and the tail's chunk; both are the
// value's chunk roots. A leaf's payload is the state's codec message for a
// vector of just that leaf's elements (a vector of at most one leaf's
// elements is all tail, so it decodes back into one leaf).
//
// Which nodes a save refers to is trie_chunks' safety rule (epoch + the same
// node at the same index in the value the base snapshot holds; the tail only
// when it is the previous value's tail at the same offset), so a set(i, x)
// writes one leaf and its path, and a push_back the tail (and, every
// width-th one, the new path of the trie).
module;
#include "instadump/capnp_compat.h"

#include <cstdint>
#include <string>
#include <utility>

#include "common/errors.h"
#include "storage/snapshot_store.h"
#include "storage/snapshot_types.h"
export module instadump:chunked_vector_state;
import :pnode;
import :pvector;
import :pvector_access;
import :collection_chunks;
import :chunked_state;

export namespace instadump::detail {

// Saving and loading a pvector<E> state node by node, with the state's
// codec for the leaves.
template <class E>
class trie_state_chunks {
  using T = pvector<E>;
  using access = pvector_access<E>;
  using node_ref = typename access::node_ref;
  struct leaves {
    using access = pvector_access<E>;
    // A vector whose tail is the leaf (a tail holds up to a full leaf).
    static T alone(const node_header* n) {
      return access::assemble(node_ref{}, node_ref::share(const_cast<node_header*>(n)), access::subtree_size(n));
    }
    static const node_header* only_leaf(const T& value) {
      return access::root(value) ? nullptr : access::tail(value);
    }
  };
  using io = state_node_io<T, leaves>;

 public:
  using encode_fn = typename io::encode_fn;
  using decode_fn = typename io::decode_fn;

  // Writes the nodes of `value` that `previous` (the value the base snapshot
  // holds, or null) does not let it refer to; returns the value's
  // descriptor (all 0 for an empty value, which is stored as a plain value).
  // (A vector's changes are at their index already: it has no deltas, and
  // its tree is always the value saved last.)
  static chunked_save save(const T& value, const T* previous, const T* /*tree*/, const chunk_history& /*h*/,
                           std::uint64_t epoch, const storage::schema_identity& schema, const encode_fn& encode,
                           chunk_sink& sink) {
    if (value.empty()) return {};
    typename io::writer w{schema, encode, sink};
    const auto tail_offset = [](const T& v) { return v.size() - (access::tail(v) ? access::count(access::tail(v)) : 0); };
    const auto ids = trie_chunks<access>::save(
        access::root(value), access::tail(value), previous ? access::root(*previous) : nullptr,
        previous ? access::tail(*previous) : nullptr, tail_offset(value), previous ? tail_offset(*previous) : 0,
        epoch, w);
    return chunked_save::of({ids.root, value.size(), ids.tail, 0}, {ids.root ? ids.root : ids.tail, 0, 0, 0}, true);
  }

  // The value `d` describes; every node built is tagged (epoch, its chunk).
  // Throws corrupt_data for damage.
  static chunked_load<T> load(const chunk_payloads::descriptor& d, const storage::chunk_source& chunks,
                              std::uint64_t epoch, const decode_fn& decode) {
    if (d.delta != 0) {
      throw corrupt_data("the descriptor of a vector names a delta (chunk " + std::to_string(d.delta) +
                         "), which only a map or set has");
    }
    if (d.tail == 0) {
      throw corrupt_data("the descriptor of a vector of " + std::to_string(d.size) + " elements names no tail chunk");
    }
    typename io::reader r{chunks, decode};
    node_ref root = d.root ? trie_chunks<access>::load(d.root, r, epoch) : node_ref{};
    node_ref tail = trie_chunks<access>::load(d.tail, r, epoch);
    return {access::assemble(std::move(root), std::move(tail), d.size), {d.root ? d.root : d.tail}};
  }
};

template <class E>
struct chunked_traits<pvector<E>> {
  static constexpr bool chunked = true;
  using chunks = trie_state_chunks<E>;
};

}  // namespace instadump::detail

// chunked_members: a struct state whose pmap, pset or pvector members are
// saved node by node (format 7), so that a state like
//   struct world { std::int64_t tick; pmap<std::int64_t, player> players; };
// costs what changed in `players`, not its size, as a state of the
// collection's own type does (chunked_state.cppm).
//
// Which members: chunked_members<S> (instadump-codegen writes it for every
// state type with such members; a hand-written codec may specialize it too).
// Each member is a path of data members from S, through structs only.
//
// The state's value is stored as ChunkedMembers (storage/chunked_members_codec.h):
// the state's own message with those members empty, and each member's
// descriptor. A member's chunks are its collection's, with one difference:
// a leaf's payload is the state's message holding a value-initialized S
// whose member is a collection of just the leaf's entries. So leaves are
// written and read with the state's codec, under the state's schema, and
// migrations of the element type apply to them as to any value. A pmap or
// pset member saves deltas as a collection state does (chunk_deltas.cppm),
// with a history of its own: the session keeps one per member, and as the
// tree basis a value whose members are the trees the store holds, which
// differ from the value saved last when some members saved deltas.
module;
#include "instadump/capnp_compat.h"
#include <capnp/message.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/errors.h"
#include "storage/chunked_members_codec.h"
#include "storage/snapshot_store.h"
#include "storage/snapshot_types.h"
export module instadump:chunked_members;
import :version;
import :chunk_sink;
import :chunk_deltas;
import :chunked_state;
import :chunked_vector_state;

export namespace instadump {

// A member of a struct reached through data members, outermost first:
// member_path<&world::players> or member_path<&game::world, &world::players>.
template <auto... Members>
struct member_path;
template <>
struct member_path<> {
  template <class X>
  static X& get(X& x) noexcept {
    return x;
  }
};
template <auto First, auto... Rest>
struct member_path<First, Rest...> {
  template <class S>
  static auto& get(S& s) noexcept {
    return member_path<Rest...>::get(s.*First);
  }
};

// Specialize for a state type S to store some of its members node by node:
//   template <> struct instadump::chunked_members<world> {
//     using members = std::tuple<instadump::member_path<&world::players>>;
//     static constexpr std::array<std::string_view, 1> paths = {"players"};
//   };
// `paths[i]` names members' element i by its field names in the state's
// Cap'n Proto schema, joined by '.': it is stored, and the operators' tool
// finds the member by it. Each member's type must be a pmap, pset or
// pvector; S must be default-constructible and copyable.
template <class S>
struct chunked_members {};

}  // namespace instadump

export namespace instadump::detail {

template <class S>
concept has_chunked_members =
    requires {
      typename chunked_members<S>::members;
      chunked_members<S>::paths;
    } && std::is_default_constructible_v<S> && std::is_copy_constructible_v<S>;

// Saving and loading a struct state S member by member.
template <class S>
class member_state_chunks {
  using members = typename chunked_members<S>::members;

 public:
  // Member I is the owner of epoch `epoch + I` (chunk_sink::set_epoch).
  static constexpr std::size_t count = std::tuple_size_v<members>;

 private:
  static_assert(count == std::tuple_size_v<std::remove_cvref_t<decltype(chunked_members<S>::paths)>>,
                "chunked_members: one path per member");
  template <std::size_t I>
  using path = std::tuple_element_t<I, members>;
  template <std::size_t I>
  using member_type = std::remove_cvref_t<decltype(path<I>::get(std::declval<S&>()))>;

 public:
  using encode_fn = std::function<void(const S&, capnp::MessageBuilder&)>;
  using decode_fn = std::function<S(capnp::MessageReader&, const storage::schema_identity&)>;

  // A value built from its chunks, and each member's history (by member).
  struct loaded {
    S value;
    std::vector<chunk_history> member_histories;
  };

  // Saves each member as a collection state saves its value: as a delta on
  // `previous`'s member (the value saved last) when chunk_deltas' rules
  // allow, with `histories[I]` member I's history (missing: none), else its
  // nodes that `tree`'s member (the trees the store holds, or null) does not
  // let it refer to. Returns the value's bytes, chunk roots, the members'
  // histories and the tree basis after it (nothing when every member is
  // empty: the value is then stored as a plain one, which it is exactly).
  static chunked_save save(const S& value, const S* previous, const S* tree,
                           std::span<const chunk_history> histories, std::uint64_t epoch,
                           const storage::schema_identity& schema, const encode_fn& encode, chunk_sink& sink) {
    std::vector<storage::chunked_member> saved;
    S stripped = value;
    chunked_save out;
    out.member_histories.resize(count);
    std::array<bool, count> tree_saved{};
    save_members({value, previous, tree, histories, epoch, schema, encode, sink, stripped, saved,
                  out.member_histories, tree_saved},
                 std::make_index_sequence<count>{});
    if (saved.empty()) return {};
    const auto saved_trees = static_cast<std::size_t>(std::count(tree_saved.begin(), tree_saved.end(), true));
    if (saved_trees != count && tree) {
      out.tree_saved = false;  // (none saved: the tree basis stays)
      if (saved_trees != 0) out.members_tree.adopt(new version<S>(0, mixed_tree(value, *tree, tree_saved)));
    }
    capnp::MallocMessageBuilder message;
    encode(stripped, message);
    out.members_value = storage::encode_chunked_members(message, saved);
    for (const storage::chunked_member& m : saved) {
      for (std::uint64_t id : {m.root, m.tail, m.delta}) {
        if (id) out.members_roots.push_back(id);
      }
    }
    return out;
  }

  // The value `stored` holds, with `schema` the identity it was written
  // under; every node built from a chunk is tagged (its member's epoch, its
  // chunk).
  // Throws corrupt_data for damage, and for a member this build does not
  // store node by node (its chunks would be lost without a word).
  static loaded load(storage::chunked_members_value& stored, const storage::schema_identity& schema,
                     const storage::chunk_source& chunks, std::uint64_t epoch, const decode_fn& decode) {
    loaded out{decode(stored.value(), schema), std::vector<chunk_history>(count)};
    for (const storage::chunked_member& m : stored.members()) {
      if (!load_member(m, out, chunks, epoch, decode, std::make_index_sequence<count>{})) {
        throw corrupt_data("its member '" + m.path + "' is stored node by node, but this build of the program " +
                           "does not store that member so (was it renamed or removed without a migration?)");
      }
    }
    return out;
  }

 private:
  // One save's arguments and results, shared by its members' saves.
  struct save_pass {
    const S& value;
    const S* previous;
    const S* tree;
    std::span<const chunk_history> histories;
    std::uint64_t epoch;
    const storage::schema_identity& schema;
    const encode_fn& encode;
    chunk_sink& sink;
    S& stripped;                                  // the value without the members saved as chunks
    std::vector<storage::chunked_member>& saved;  // their descriptors
    std::vector<chunk_history>& histories_after;  // by member
    std::array<bool, count>& tree_saved;          // by member: its tree is the value's now
  };

  template <std::size_t... I>
  static void save_members(const save_pass& pass, std::index_sequence<I...>) {
    (save_member<I>(pass), ...);
  }

  template <std::size_t I>
  static const member_type<I>* member_of(const S* s) noexcept {
    return s ? &path<I>::get(const_cast<S&>(*s)) : nullptr;
  }

  // A value whose member I is `value`'s where tree_saved[I], else `tree`'s
  // (its other fields are of no use to a tree basis: left default).
  static S mixed_tree(const S& value, const S& tree, const std::array<bool, count>& tree_saved) {
    S out{};
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((path<I>::get(out) = *member_of<I>(tree_saved[I] ? &value : &tree)), ...);
    }(std::make_index_sequence<count>{});
    return out;
  }

  template <std::size_t I>
  static void save_member(const save_pass& pass) {
    using M = member_type<I>;
    static_assert(chunked_traits<M>::chunked, "chunked_members: a member must be a pmap, pset or pvector");
    const M& member = *member_of<I>(&pass.value);
    const encode_fn& encode = pass.encode;
    // A leaf is the state's message for an S holding just the leaf's entries.
    const typename chunked_traits<M>::chunks::encode_fn encode_leaf = [&encode](const M& part,
                                                                               capnp::MessageBuilder& m) {
      S alone{};
      path<I>::get(alone) = part;
      encode(alone, m);
    };
    pass.sink.set_epoch(pass.epoch + I);
    const chunk_history h = I < pass.histories.size() ? pass.histories[I] : chunk_history{};
    const chunked_save s =
        chunked_traits<M>::chunks::save(member, member_of<I>(pass.previous), member_of<I>(pass.tree), h,
                                        pass.epoch + I, pass.schema, encode_leaf, pass.sink);
    pass.tree_saved[I] = s.tree_saved;
    if (s.d.root == 0 && s.d.tail == 0) return;  // empty: stays in the message (as an empty list)
    pass.histories_after[I] = s.history;
    pass.saved.push_back({std::string(chunked_members<S>::paths[I]), s.d.root, s.d.size, s.d.tail, s.d.delta});
    path<I>::get(pass.stripped) = M{};
  }

  template <std::size_t... I>
  static bool load_member(const storage::chunked_member& m, loaded& out, const storage::chunk_source& chunks,
                          std::uint64_t epoch, const decode_fn& decode, std::index_sequence<I...>) {
    return (load_member_at<I>(m, out, chunks, epoch, decode) || ...);
  }

  template <std::size_t I>
  static bool load_member_at(const storage::chunked_member& m, loaded& out, const storage::chunk_source& chunks,
                             std::uint64_t epoch, const decode_fn& decode) {
    if (m.path != chunked_members<S>::paths[I]) return false;
    using M = member_type<I>;
    const typename chunked_traits<M>::chunks::decode_fn decode_leaf =
        [&decode](capnp::MessageReader& r, const storage::schema_identity& stored) {
          S alone = decode(r, stored);
          return M(std::move(path<I>::get(alone)));
        };
    M& member = path<I>::get(out.value);
    if (!member.empty()) {
      throw corrupt_data("its member '" + m.path + "' is stored node by node and also holds " +
                         std::to_string(member.size()) + " entries in the value itself");
    }
    try {
      chunked_load<M> got = chunked_traits<M>::chunks::load({m.root, m.size, m.tail, m.delta}, chunks, epoch + I,
                                                           decode_leaf);
      member = std::move(got.value);
      out.member_histories[I] = got.history;
    } catch (const corrupt_data& e) {
      throw corrupt_data("its member '" + m.path + "': " + e.what());
    }
    return true;
  }
};

template <class S>
  requires has_chunked_members<S>
struct chunked_traits<S> {
  static constexpr bool chunked = true;
  static constexpr bool members = true;  // stored as ChunkedMembers, not as a descriptor
  using chunks = member_state_chunks<S>;
};

}  // namespace instadump::detail

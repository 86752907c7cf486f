// chunk_deltas: the changes to a big pmap or pset saved as entries, not as
// the nodes they touched, and applied again when it is loaded.
//
// A save node by node rewrites every leaf a change touched and its path: a
// thousand changes at random keys of a million-entry map rewrite a thousand
// 16-entry leaves and their paths, 16 times what changed. Instead, a save of
// a map whose tree is stored already writes a *delta*: the entries set since
// the previous save (a message of the state's own type holding just them),
// the keys erased (likewise; a map's erased keys carry default values, which
// mean nothing), and a link chunk that lists those two chunks and the
// previous delta's link. The value's descriptor names the stored tree and
// the newest link; a load builds the tree and applies the links oldest
// first. The deltas since the tree are bounded (max_links links, entries up
// to half the collection). When the links are used up, one delta from the
// tree itself (its link has no previous one) replaces the chain, if the
// changes since the tree fit the entries' bound; past that, the save writes
// the changed nodes instead (a *fold*), which starts a new tree with no
// deltas. (A fold rewrites every leaf group the deltas touched: with heavy
// entries, nearly the whole collection.)
//
// btree_diff finds what changed, at the cost of the nodes it copied.
module;
#include "instadump/capnp_compat.h"
#include <capnp/message.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/errors.h"
#include "storage/snapshot_store.h"
#include "storage/snapshot_types.h"
#include "storage/value_message.h"
export module instadump:chunk_deltas;
import :pnode;
import :btree_diff;
import :chunk_sink;

export namespace instadump::detail {

// A list of UInt64 as a Cap'n Proto message of one struct with one field
// (`{list @0 :List(UInt64)}`): the root pointer (no data, one pointer), the
// list pointer (8-byte elements), then the numbers. Branch chunks (their
// subtree sizes) and delta links (what each child is) use this shape.
struct uint64_list_payload {
  static std::vector<capnp::word> write(std::span<const std::uint64_t> numbers) {
    std::vector<capnp::word> out(2 + numbers.size());
    const std::uint64_t head[2] = {std::uint64_t{1} << 48,
                                   1 | std::uint64_t{5} << 32 | std::uint64_t{numbers.size()} << 35};
    std::memcpy(out.data(), head, sizeof head);
    if (!numbers.empty()) std::memcpy(out.data() + 2, numbers.data(), numbers.size_bytes());
    return out;
  }
  // The `count` numbers in `words`, or nullopt if they are not such a list.
  static std::optional<std::vector<std::uint64_t>> read(kj::ArrayPtr<const capnp::word> words, std::size_t count) {
    std::uint64_t head[2] = {};
    if (words.size() == 2 + count) std::memcpy(head, words.begin(), sizeof head);
    if (head[0] != std::uint64_t{1} << 48 || head[1] != (1 | std::uint64_t{5} << 32 | std::uint64_t{count} << 35)) {
      return std::nullopt;
    }
    std::vector<std::uint64_t> numbers(count);
    if (count) std::memcpy(numbers.data(), words.begin() + 2, count * sizeof(std::uint64_t));
    return numbers;
  }
};

// What a pmap or pset state (or member of a struct state) has stored beyond
// its tree's nodes: the root chunk of the stored tree and the deltas saved
// on it since.
struct chunk_history {
  std::uint64_t tree_root = 0;      // 0: nothing stored (the next save writes a tree)
  std::uint64_t delta_head = 0;     // the newest delta's link chunk (0: none)
  std::uint64_t delta_links = 0;    // how many deltas since the tree
  std::uint64_t delta_entries = 0;  // the entries they hold, together
  // The stored tree's size in bytes, at least: what a save of the whole
  // tree wrote, or a load read; a save of changed nodes (which refers to
  // the rest) raises it to what it wrote. 0: not known.
  std::uint64_t tree_bytes = 0;
  // The session's tree basis holds exactly the stored tree's entries (true
  // after a save of the tree or a load of it alone; false after a load
  // that applied deltas, whose value stands for the tree only in the
  // safety rule): a delta from the basis may then replace the chain.
  bool basis_is_tree = false;
};

// The payload types of a delta's chunks (storage::chunk_view::node_type).
struct delta_chunks {
  // DeltaLink {parts @0 :List(UInt64)}: one part number per child chunk.
  static constexpr std::uint64_t link_type = 0x9c3e5b2d7a1f4e61ull;
  // The state's root struct (in the chunk's schema) holding the entries set.
  static constexpr std::uint64_t set_type = 0xe7a21c4f93b05d18ull;
  // The state's root struct holding the keys erased (a map's values: defaults).
  static constexpr std::uint64_t erased_type = 0x5d8f0b3e6c2a9174ull;
  // What a link's child is.
  static constexpr std::uint64_t previous_part = 0;
  static constexpr std::uint64_t set_part = 1;
  static constexpr std::uint64_t erased_part = 2;

  // Collections smaller than this, in entries and in stored bytes, are
  // saved node by node every time: a change rewrites at most one leaf group
  // (128 entries) or the whole small tree, which is then cheap. A small
  // collection of heavy entries (a pmap of 50 pmaps of 1,000 records each)
  // saves deltas like a big one: its one leaf group holds every entry, so
  // rewriting it would rewrite them all, where a delta writes the changed
  // entries (each whole: an inner collection is stored in its entry).
  static constexpr std::uint64_t min_size = 1024;
  static constexpr std::uint64_t min_tree_bytes = 64 * 1024;
  // Deltas since the tree, at most (a longer chain is damage).
  static constexpr std::uint64_t max_links = 64;
  // Entries the deltas since the tree may hold, together.
  static constexpr std::uint64_t max_entries(std::uint64_t size) noexcept { return size / 2; }
};

// Deltas of a pmap or pset state T whose nodes Access reaches, written and
// read with the state's codec.
template <class T, class Access>
class collection_deltas {
 public:
  using encode_fn = std::function<void(const T&, capnp::MessageBuilder&)>;
  using decode_fn = std::function<T(capnp::MessageReader&, const storage::schema_identity&)>;

  // Adds to `sink` the delta from `previous` (the value saved last) to
  // `value`, or when the chain of links is full the delta from `tree` (the
  // session's tree basis) that replaces it; returns the history
  // after it, or nullopt (having added nothing) when `value` should be
  // saved node by node instead: no tree stored yet, a small collection, or
  // too many changes since the tree.
  static std::optional<chunk_history> save(const T& value, const T& previous, const T& tree, const chunk_history& h,
                                           const storage::schema_identity& schema, const encode_fn& encode,
                                           chunk_sink& sink) {
    const std::uint64_t limit = delta_chunks::max_entries(value.size());
    const bool small = value.size() < delta_chunks::min_size && h.tree_bytes < delta_chunks::min_tree_bytes;
    if (h.tree_root == 0 || small || h.delta_entries >= limit) return std::nullopt;
    if (h.delta_links < delta_chunks::max_links) {
      return add_delta(value, previous, h, limit - h.delta_entries, schema, encode, sink);
    }
    if (!h.basis_is_tree) return std::nullopt;
    chunk_history restart = h;
    restart.delta_head = restart.delta_links = restart.delta_entries = 0;
    return add_delta(value, tree, restart, limit, schema, encode, sink);
  }

  // `tree` with the deltas up to link `head` applied, oldest first; adds
  // their links and entries to `h`. Throws corrupt_data naming the chunk
  // for a link or part that is not one, or a chain longer than allowed.
  // The tree's nodes are changed in place where only it holds them (as it
  // does when just loaded): a changed node loses its chunk's tag, and an
  // unchanged one sits where the stored tree has it, so the value may stand
  // for the stored tree in the safety rule.
  static T load(T tree, std::uint64_t head, const storage::chunk_source& chunks, const decode_fn& decode,
                chunk_history& h) {
    struct link_parts {
      std::uint64_t set = 0, erased = 0;
    };
    std::vector<link_parts> links;  // newest first
    for (std::uint64_t id = head; id != 0;) {
      if (links.size() == delta_chunks::max_links) {
        throw corrupt_data("chunk " + std::to_string(head) + " starts a chain of more than " +
                           std::to_string(delta_chunks::max_links) + " deltas");
      }
      const storage::chunk_view c = chunks.get(id);
      const auto parts = c.node_type == delta_chunks::link_type
                             ? uint64_list_payload::read(c.payload, c.children.size())
                             : std::nullopt;
      if (!parts) throw corrupt_data("chunk " + std::to_string(id) + " is not the link of a delta");
      link_parts l;
      std::uint64_t previous = 0;
      for (std::size_t i = 0; i < parts->size(); ++i) {
        const std::uint64_t part = (*parts)[i];
        std::uint64_t& slot = part == delta_chunks::previous_part ? previous
                              : part == delta_chunks::set_part    ? l.set
                              : part == delta_chunks::erased_part ? l.erased
                                                                  : previous;
        if (part > delta_chunks::erased_part || slot != 0) {
          throw corrupt_data("chunk " + std::to_string(id) + " is a delta link whose part " + std::to_string(i) +
                             " is unknown or repeated");
        }
        slot = c.children[i];
      }
      if (l.set == 0 && l.erased == 0) {
        throw corrupt_data("chunk " + std::to_string(id) + " is a delta link with no entries");
      }
      links.push_back(l);
      id = previous;
    }
    auto t = std::move(tree).transient();
    std::uint64_t entries = 0;
    for (auto l = links.rbegin(); l != links.rend(); ++l) {
      if (l->erased) {
        const T erased = read_part(l->erased, delta_chunks::erased_type, chunks, decode);
        entries += erased.size();
        for (const auto& entry : erased) {
          if constexpr (has_values) {
            t.erase(entry.first);
          } else {
            t.erase(entry);
          }
        }
      }
      if (l->set) {
        const T set = read_part(l->set, delta_chunks::set_type, chunks, decode);
        entries += set.size();
        for (const auto& entry : set) {
          if constexpr (has_values) {
            t.set(entry.first, entry.second);
          } else {
            t.insert(entry);
          }
        }
      }
    }
    h.delta_head = head;
    h.delta_links = links.size();
    h.delta_entries = entries;
    return std::move(t).persistent();
  }

 private:
  // Adds the delta from `from` to `value` after the links of `h`, if it
  // holds at most `budget` entries and can be written.
  static std::optional<chunk_history> add_delta(const T& value, const T& from, const chunk_history& h,
                                                std::uint64_t budget, const storage::schema_identity& schema,
                                                const encode_fn& encode, chunk_sink& sink) {
    typename Access::bulk_builder set, erased;
    std::uint64_t sets = 0, erasures = 0;
    bool representable = true;
    const bool within = btree_diff<Access>::run(
        Access::root(from), Access::root(value), budget,
        [&](const auto& key, const auto&... v) {
          set.add(key, v...);
          ++sets;
        },
        [&](const auto& key) {
          if constexpr (has_values) {
            if constexpr (std::is_default_constructible_v<mapped>) {
              erased.add(key, mapped{});
            } else {
              representable = false;  // (no value to write with the key: save node by node)
            }
          } else {
            erased.add(key);
          }
          ++erasures;
        });
    if (!within || !representable) return std::nullopt;
    if (sets + erasures == 0) return h;  // equal entries: the chunks saved last hold them
    std::vector<std::uint64_t> children, parts;
    if (h.delta_head) {
      children.push_back(h.delta_head);
      parts.push_back(delta_chunks::previous_part);
    }
    const auto add_part = [&](typename Access::bulk_builder& b, std::uint64_t type, std::uint64_t part) {
      const T entries = std::move(b).finish();
      children.push_back(sink.add_encoded(
          schema, type, [&](capnp::MessageBuilder& message) { encode(entries, message); }, nullptr));
      parts.push_back(part);
    };
    if (sets) add_part(set, delta_chunks::set_type, delta_chunks::set_part);
    if (erasures) add_part(erased, delta_chunks::erased_type, delta_chunks::erased_part);
    const std::vector<capnp::word> payload = uint64_list_payload::write(parts);
    const std::uint64_t link = sink.add(schema, delta_chunks::link_type, children,
                                        kj::ArrayPtr<const capnp::word>(payload.data(), payload.size()), nullptr);
    chunk_history after = h;
    after.delta_head = link;
    after.delta_links += 1;
    after.delta_entries += sets + erasures;
    return after;
  }

  static constexpr bool has_values = requires(const node_header* n) { Access::values(n); };
  template <class C>
  struct mapped_of {
    using type = void;
  };
  template <class C>
    requires requires { typename C::value_type::second_type; }
  struct mapped_of<C> {
    using type = typename C::value_type::second_type;
  };
  // A map's value type (void for a set).
  using mapped = typename mapped_of<T>::type;

  static T read_part(std::uint64_t id, std::uint64_t type, const storage::chunk_source& chunks, const decode_fn& decode) {
    const storage::chunk_view c = chunks.get(id);
    if (c.node_type != type || !c.children.empty()) {
      throw corrupt_data("chunk " + std::to_string(id) + " is not the " +
                         (type == delta_chunks::set_type ? "entries set" : "keys erased") + " of a delta");
    }
    storage::value_message message(c.payload, false, storage::reader_options_for(c.payload.size()));
    return decode(message.reader(), c.schema);
  }
};

}  // namespace instadump::detail

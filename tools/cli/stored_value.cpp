// stored_value.h: a stored value (whole, node by node, or member by member)
// into the walker.
#include "stored_value.h"

#include <kj/exception.h>

#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/errors.h"
#include "delta_overlay.h"
#include "field_path.h"
#include "storage/chunked_members_codec.h"
#include "storage/manifest_codec.h"
#include "storage/value_message.h"

namespace instadump::cli {
namespace {

// The fixed payload shapes of a collection stored node by node
// (docs/FORMAT.md, "Collections stored node by node").
constexpr std::uint64_t kLeafNode = 0;
constexpr std::uint64_t kBranchNode = 0xb6f1c0a7e41d2c95ull;
// A pmap's or pset's lowest branch with its leaves (format 6): read as a
// leaf of all their entries.
constexpr std::uint64_t kLeafGroupNode = 0x8f4d2b6e1c7a3059ull;

// A collection's descriptor parts (ChunkedCollection's, or a
// ChunkedMember's): its tree (0 for a pvector whose elements all fit its
// tail), its number of entries, a pvector's tail leaf after the tree's
// elements (0 for a pmap or pset), and the newest delta's link (format 5).
struct collection_parts {
  std::uint64_t root = 0;
  std::uint64_t size = 0;
  std::uint64_t tail = 0;
  std::uint64_t delta = 0;
};

// The parts of a top-level collection's descriptor `words` (ChunkedCollection,
// 4 or 5 words); nothing, and a problem, when they are not one.
std::optional<collection_parts> read_descriptor(kj::ArrayPtr<const capnp::word> words, value_walker& walker) {
  std::uint64_t w[5] = {};
  if (words.size() != 4 && words.size() != 5) {
    walker.report("a collection stored node by node whose descriptor is not 4 or 5 words");
    return std::nullopt;
  }
  std::memcpy(w, words.begin(), words.size() * sizeof(capnp::word));
  if (w[0] != std::uint64_t{words.size() - 1} << 32) {
    walker.report("a collection descriptor without its root pointer");
    return std::nullopt;
  }
  return collection_parts{w[1], w[2], w[3], w[4]};
}

// The field of a state's root struct that holds its value, if it has one.
std::optional<capnp::StructSchema::Field> value_field(capnp::StructSchema root) {
  KJ_IF_MAYBE(field, root.findFieldByName("value")) {
    return *field;
  }
  return std::nullopt;
}

// Emits the value of a state's root struct `root`: its `value` field (or
// the whole struct, for a schema without one).
void walk_root(const capnp::DynamicStruct::Reader& root, value_walker& walker) {
  if (auto field = value_field(root.getSchema())) {
    walker.walk_field_value(root, *field);
  } else {
    walker.walk(root);
  }
}

// A collection stored node by node, assembled from its chunks: each leaf's
// (or group's, or delta part's) payload is a message of the state's root
// struct holding its entries at `entries`.
class collection_walk {
 public:
  collection_walk(const storage::chunk_source& chunks, schema_library& schemas, value_walker& walker,
                  field_path entries)
      : chunks_(chunks), schemas_(schemas), walker_(walker), entries_(std::move(entries)) {}

  void run(const collection_parts& c) {
    if (c.root == 0 && c.tail == 0) return walker_.report("a collection descriptor without a root or a tail chunk");
    if (c.delta != 0) {
      try {
        overlay_.emplace(chunks_, schemas_, c.delta, entries_);
      } catch (const error& e) {
        return walker_.report(e.what());
      } catch (const kj::Exception& e) {
        return walker_.report("a delta does not decode: " + std::string(e.getDescription().cStr()));
      }
      next_change_ = overlay_->changes().begin();
    }
    walker_.begin_outer_list(c.size, composite_elements(c.root != 0 ? c.root : c.tail));
    in_list_ = true;
    if (c.root != 0) node(c.root, UINT64_MAX);
    if (c.tail != 0) node(c.tail, UINT64_MAX);
    if (overlay_) {  // what the deltas add after the tree's last key, or with keys the tool cannot order
      for (auto& [key, change] : overlay_->changes()) {
        if (!change.erased && !change.seen) emit(change.list, change.index);
      }
    }
    if (seen_ != c.size) {
      problem("the collection's chunks hold " + std::to_string(seen_) + " entries, its descriptor says " +
              std::to_string(c.size));
    }
    walker_.end_outer_list();
  }

 private:
  // A problem: once the list is begun, as one of its elements (so that the
  // JSON document stays one).
  void problem(const std::string& what) {
    if (in_list_) {
      walker_.report_element(what);
    } else {
      walker_.report(what);
    }
  }

  // Whether the elements are structs or lists, from the leftmost leaf.
  bool composite_elements(std::uint64_t id) {
    try {
      for (int depth = 0; depth < 64; ++depth) {
        storage::chunk_view chunk = chunks_.get(id);
        if (chunk.node_type != kBranchNode || chunk.children.empty()) {
          bool composite = false;
          leaf_list(chunk, false, [&](const capnp::DynamicList::Reader& list) {
            composite = value_walker::composite_elements(list);
          });
          return composite;
        }
        id = chunk.children[0];
      }
    } catch (...) {
      // Reported when the walk reaches it.
    }
    return false;
  }

  // Hands the leaf's list of elements to `use`, while its message lives;
  // false (and, when `report`, a problem) when it is not one.
  template <typename Use>
  bool leaf_list(const storage::chunk_view& chunk, bool report, Use&& use) {
    const stored_schema& schema = schemas_.get(chunk.schema.fingerprint);
    if (!schema.root) {
      if (report) problem("chunk " + std::to_string(chunk.id) + ": " + schema.problem);
      return false;
    }
    storage::value_message message(chunk.payload, false, storage::reader_options_for(chunk.payload.size()));
    const auto list = list_at(message.reader().getRoot<capnp::DynamicStruct>(*schema.root), entries_);
    if (list) {
      use(*list);
    } else if (report) {
      problem("chunk " + std::to_string(chunk.id) + " is not a leaf of a collection");
    }
    return list.has_value();
  }

  void node(std::uint64_t id, std::uint64_t below) {
    if (id >= below) {
      return problem("chunk " + std::to_string(id) + " is listed as a child of a chunk with a smaller id");
    }
    try {
      storage::chunk_view chunk = chunks_.get(id);
      if (chunk.node_type == kBranchNode) {
        if (chunk.payload.size() != 2 + chunk.children.size()) {
          return problem("chunk " + std::to_string(id) + " is not a branch of " +
                         std::to_string(chunk.children.size()) + " children");
        }
        // The span lives as long as the value's visit; copy the ids anyway,
        // since a child's read may replace an unaligned copy.
        const std::vector<std::uint64_t> children(chunk.children.begin(), chunk.children.end());
        for (std::uint64_t child : children) node(child, id);
      } else if (chunk.node_type == kLeafNode || chunk.node_type == kLeafGroupNode) {
        leaf_list(chunk, true, [&](const capnp::DynamicList::Reader& list) {
          for (unsigned i = 0; i < list.size(); ++i) element(list, i);
        });
      } else {
        problem("chunk " + std::to_string(id) + " has a node type this build does not know");
      }
    } catch (const error& e) {
      problem(e.what());
    } catch (const kj::Exception& e) {
      problem("chunk " + std::to_string(id) + " does not decode: " + e.getDescription().cStr());
    }
  }

  // Element `index` of a leaf's `list`, as the deltas leave it; first the
  // entries they add before it.
  void element(const capnp::DynamicList::Reader& list, unsigned index) {
    if (!overlay_) return emit(list, index);
    auto& changes = overlay_->changes();
    const entry_key key = key_of(list, index);
    for (; key.ordered() && next_change_ != changes.end() && next_change_->first < key; ++next_change_) {
      delta_overlay::change& added = next_change_->second;
      if (added.erased || added.seen) continue;
      added.seen = true;
      emit(added.list, added.index);
    }
    auto it = changes.find(key);
    if (it == changes.end()) return emit(list, index);
    it->second.seen = true;
    if (!it->second.erased) emit(it->second.list, it->second.index);
  }

  void emit(const capnp::DynamicList::Reader& list, unsigned index) {
    walker_.walk_element(list, index);
    walker_.count_element();
    ++seen_;
  }

  const storage::chunk_source& chunks_;
  schema_library& schemas_;
  value_walker& walker_;
  const field_path entries_;
  bool in_list_ = false;
  std::uint64_t seen_ = 0;
  std::optional<delta_overlay> overlay_;
  std::map<entry_key, delta_overlay::change>::iterator next_change_;
};

// A struct state whose collection members are stored node by node (format
// 7, ChunkedMembers): its value with those members empty, walked as any
// value, except that where the walk reaches a member's field the member's
// collection is assembled from its chunks in place of the empty list.
class members_walk {
 public:
  members_walk(const storage::entry_info& entry, const storage::chunk_source& chunks, schema_library& schemas,
               value_walker& walker)
      : entry_(entry), chunks_(chunks), schemas_(schemas), walker_(walker) {}

  void run(kj::ArrayPtr<const capnp::word> words) {
    try {
      stored_.emplace(words, "the value");
    } catch (const error& e) {
      return walker_.report(e.what());
    }
    const stored_schema& schema = schemas_.get(entry_.schema.fingerprint);
    if (!schema.root) return walker_.report(schema.problem);
    // (As the program's load does, a value that refers to other chunks, or
    // to members its schema does not have, is refused whole.)
    if (!consistent(*schema.root)) return;
    const std::uint64_t problems_before = walker_.problems();
    walker_.take_fields(value_field(*schema.root) ? "value" : "",
                        [this](const std::string& path, const capnp::DynamicStruct::Reader& parent,
                               const capnp::StructSchema::Field& field) { return take(path, parent, field); });
    KJ_DEFER(walker_.take_fields({}, {}));
    try {
      walk_root(stored_->value().getRoot<capnp::DynamicStruct>(*schema.root), walker_);
    } catch (const kj::Exception& e) {
      return walker_.report(std::string("the value does not decode: ") + e.getDescription().cStr());
    }
    // A member not reached (only past a field that did not decode, which was
    // reported in its place) must not go unnoticed.
    if (walker_.problems() == problems_before && taken_.size() != stored_->members().size()) {
      walker_.report("a member stored node by node was not reached in the value");
    }
  }

 private:
  // Whether the value's chunk roots are its members' and each member's path
  // names a list field of `root`; else a problem in place of the value.
  bool consistent(capnp::StructSchema root) {
    if (entry_.chunk_roots != stored_->roots()) {
      walker_.report("the value refers to other chunks than the chunk roots stored with it");
      return false;
    }
    for (const storage::chunked_member& m : stored_->members()) {
      if (!names_list_field(root, split_field_path(m.path))) {
        walker_.report("its member '" + m.path + "' is stored node by node, but the value's schema has no " +
                       "list field there");
        return false;
      }
    }
    return true;
  }

  // The field at `path`: a member's collection from its chunks (true), or
  // not a member (false: the walker emits it).
  bool take(const std::string& path, const capnp::DynamicStruct::Reader& parent,
            const capnp::StructSchema::Field& field) {
    const storage::chunked_member* member = member_at(path);
    if (member == nullptr) return false;
    taken_.insert(path);
    if (const std::size_t held = entries_in(parent, field); held != 0) {
      walker_.report("its member '" + path + "' is stored node by node and also holds " + std::to_string(held) +
                     " entries in the value itself");
      return true;
    }
    collection_walk(chunks_, schemas_, walker_, split_field_path(path))
        .run({member->root, member->size, member->tail, member->delta});
    return true;
  }

  const storage::chunked_member* member_at(const std::string& path) const {
    for (const storage::chunked_member& m : stored_->members()) {
      if (m.path == path) return &m;
    }
    return nullptr;
  }

  // The entries the value itself holds in a member's field (none when it
  // is stored as it should be; a field that does not decode: none, the
  // chunks are what counts).
  static std::size_t entries_in(const capnp::DynamicStruct::Reader& parent, const capnp::StructSchema::Field& field) {
    try {
      const capnp::DynamicValue::Reader v = parent.get(field);
      return v.getType() == capnp::DynamicValue::LIST ? v.as<capnp::DynamicList>().size() : 0;
    } catch (const kj::Exception&) {
      return 0;
    }
  }

  const storage::entry_info& entry_;
  const storage::chunk_source& chunks_;
  schema_library& schemas_;
  value_walker& walker_;
  std::optional<storage::chunked_members_value> stored_;
  std::set<std::string> taken_;
};

}  // namespace

void walk_stored_value(const storage::entry_info& entry, kj::ArrayPtr<const capnp::word> words,
                       const storage::chunk_source& chunks, schema_library& schemas, value_walker& walker) {
  if (!entry.chunk_roots.empty()) {
    // A struct state stored member by member (its bytes have pointers), or
    // a collection state's descriptor (they have none).
    if (storage::holds_chunked_members(words)) return members_walk(entry, chunks, schemas, walker).run(words);
    if (const auto parts = read_descriptor(words, walker)) {
      // As the program's load: a descriptor names exactly the value's chunk
      // roots (its root, tail and newest delta, each if it has one).
      std::vector<std::uint64_t> roots;
      for (std::uint64_t id : {parts->root, parts->tail, parts->delta}) {
        if (id != 0) roots.push_back(id);
      }
      if (roots != entry.chunk_roots) {
        return walker.report("the collection's descriptor names other chunks than the chunk roots stored with it");
      }
      collection_walk(chunks, schemas, walker, {"value"}).run(*parts);
    }
    return;
  }
  const stored_schema& schema = schemas.get(entry.schema.fingerprint);
  if (!schema.root) return walker.report(schema.problem);
  try {
    storage::value_message message(words, entry.framed, storage::reader_options_for(words.size()));
    walk_root(message.reader().getRoot<capnp::DynamicStruct>(*schema.root), walker);
  } catch (const kj::Exception& e) {
    walker.report(std::string("the value does not decode: ") + e.getDescription().cStr());
  }
}

}  // namespace instadump::cli

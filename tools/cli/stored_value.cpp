// stored_value.h: a stored value (whole, or node by node) into the walker.
#include "stored_value.h"

#include <kj/exception.h>

#include <cstring>
#include <map>
#include <optional>
#include <string>

#include "common/errors.h"
#include "delta_overlay.h"
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

// Reads a message of `schema`'s root struct from `words` and hands the
// reader of its `value` field (or of the whole struct, for a schema
// without one) to `use`, while the message lives.
template <typename Use>
void with_root_value(kj::ArrayPtr<const capnp::word> words, bool framed, capnp::StructSchema schema, Use&& use) {
  storage::value_message message(words, framed, storage::reader_options_for(words.size()));
  capnp::DynamicStruct::Reader root = message.reader().getRoot<capnp::DynamicStruct>(schema);
  KJ_IF_MAYBE(field, schema.findFieldByName("value")) {
    use(root, std::optional<capnp::StructSchema::Field>(*field));
  } else {
    use(root, std::optional<capnp::StructSchema::Field>());
  }
}

class collection_walk {
 public:
  collection_walk(const storage::chunk_source& chunks, schema_library& schemas, value_walker& walker)
      : chunks_(chunks), schemas_(schemas), walker_(walker) {}

  void run(kj::ArrayPtr<const capnp::word> descriptor) {
    std::uint64_t w[5] = {};
    if (descriptor.size() != 4 && descriptor.size() != 5) {
      return walker_.report("a collection stored node by node whose descriptor is not 4 or 5 words");
    }
    std::memcpy(w, descriptor.begin(), descriptor.size() * sizeof(capnp::word));
    if (w[0] != std::uint64_t{descriptor.size() - 1} << 32) {
      return walker_.report("a collection descriptor without its root pointer");
    }
    // w[1]: the root chunk (0 for a pvector whose elements all fit its
    // tail); w[3]: a pvector's tail leaf, after the root's elements (0 for a
    // pmap or pset); w[4] (format 5): the newest delta's link.
    const std::uint64_t root = w[1];
    const std::uint64_t tail = w[3];
    if (root == 0 && tail == 0) return walker_.report("a collection descriptor without a root or a tail chunk");
    if (w[4] != 0) {
      try {
        overlay_.emplace(chunks_, schemas_, w[4]);
      } catch (const error& e) {
        return walker_.report(e.what());
      } catch (const kj::Exception& e) {
        return walker_.report("a delta does not decode: " + std::string(e.getDescription().cStr()));
      }
      next_change_ = overlay_->changes().begin();
    }
    expected_ = w[2];
    walker_.begin_outer_list(expected_, composite_elements(root != 0 ? root : tail));
    if (root != 0) node(root, UINT64_MAX);
    if (tail != 0) node(tail, UINT64_MAX);
    if (overlay_) {  // what the deltas add after the tree's last key, or with keys the tool cannot order
      for (auto& [key, change] : overlay_->changes()) {
        if (!change.erased && !change.seen) emit(change.list, change.index);
      }
    }
    walker_.end_outer_list();
    if (seen_ != expected_) {
      walker_.report("the collection's chunks hold " + std::to_string(seen_) + " entries, its descriptor says " +
                     std::to_string(expected_));
    }
  }

 private:
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

  // Hands the leaf's list of elements to `use`; false (and, when
  // `report`, a problem) when it is not one.
  template <typename Use>
  bool leaf_list(const storage::chunk_view& chunk, bool report, Use&& use) {
    const stored_schema& schema = schemas_.get(chunk.schema.fingerprint);
    if (!schema.root) {
      if (report) walker_.report("chunk " + std::to_string(chunk.id) + ": " + schema.problem);
      return false;
    }
    bool ok = false;
    with_root_value(chunk.payload, false, *schema.root, [&](const capnp::DynamicStruct::Reader& root, auto field) {
      if (!field) return;
      capnp::DynamicValue::Reader value = root.get(*field);
      if (value.getType() != capnp::DynamicValue::LIST) return;
      use(value.as<capnp::DynamicList>());
      ok = true;
    });
    if (!ok && report) walker_.report("chunk " + std::to_string(chunk.id) + " is not a leaf of a collection");
    return ok;
  }

  void node(std::uint64_t id, std::uint64_t below) {
    if (id >= below) {
      return walker_.report("chunk " + std::to_string(id) + " is listed as a child of a chunk with a smaller id");
    }
    try {
      storage::chunk_view chunk = chunks_.get(id);
      if (chunk.node_type == kBranchNode) {
        if (chunk.payload.size() != 2 + chunk.children.size()) {
          return walker_.report("chunk " + std::to_string(id) + " is not a branch of " +
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
        walker_.report("chunk " + std::to_string(id) + " has a node type this build does not know");
      }
    } catch (const error& e) {
      walker_.report(e.what());
    } catch (const kj::Exception& e) {
      walker_.report("chunk " + std::to_string(id) + " does not decode: " + e.getDescription().cStr());
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
  std::uint64_t expected_ = 0;
  std::uint64_t seen_ = 0;
  std::optional<delta_overlay> overlay_;
  std::map<entry_key, delta_overlay::change>::iterator next_change_;
};

}  // namespace

void walk_stored_value(const storage::entry_info& entry, kj::ArrayPtr<const capnp::word> words,
                       const storage::chunk_source& chunks, schema_library& schemas, value_walker& walker) {
  if (!entry.chunk_roots.empty()) {
    collection_walk(chunks, schemas, walker).run(words);
    return;
  }
  const stored_schema& schema = schemas.get(entry.schema.fingerprint);
  if (!schema.root) return walker.report(schema.problem);
  try {
    with_root_value(words, entry.framed, *schema.root, [&](const capnp::DynamicStruct::Reader& root, auto field) {
      if (field) {
        walker.walk_field_value(root, *field);
      } else {
        walker.walk(root);
      }
    });
  } catch (const kj::Exception& e) {
    walker.report(std::string("the value does not decode: ") + e.getDescription().cStr());
  }
}

}  // namespace instadump::cli

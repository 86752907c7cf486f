// delta_overlay.h: a collection's deltas, read for the walk that shows it.
#include "delta_overlay.h"

#include <kj/string-tree.h>

#include <cstring>
#include <optional>
#include <tuple>
#include <utility>

#include "common/errors.h"

namespace instadump::cli {
namespace {

// The payload types of a delta's chunks and what a link's parts are
// (docs/FORMAT.md, "Deltas").
constexpr std::uint64_t kLinkNode = 0x9c3e5b2d7a1f4e61ull;
constexpr std::uint64_t kSetNode = 0xe7a21c4f93b05d18ull;
constexpr std::uint64_t kErasedNode = 0x5d8f0b3e6c2a9174ull;
constexpr std::uint64_t kPreviousPart = 0;
constexpr std::uint64_t kSetPart = 1;
constexpr std::uint64_t kErasedPart = 2;
constexpr std::size_t kMaxLinks = 64;

// A link's payload: {parts @0 :List(UInt64)}, one part per child.
std::optional<std::vector<std::uint64_t>> link_parts(const storage::chunk_view& c) {
  const std::size_t n = c.children.size();
  std::uint64_t head[2] = {};
  if (c.payload.size() == 2 + n) std::memcpy(head, c.payload.begin(), sizeof head);
  if (head[0] != std::uint64_t{1} << 48 || head[1] != (1 | std::uint64_t{5} << 32 | std::uint64_t{n} << 35)) {
    return std::nullopt;
  }
  std::vector<std::uint64_t> parts(n);
  if (n) std::memcpy(parts.data(), c.payload.begin() + 2, n * sizeof(std::uint64_t));
  return parts;
}

}  // namespace

bool entry_key::ordered() const {
  switch (kind) {
    case capnp::DynamicValue::INT:
    case capnp::DynamicValue::UINT:
    case capnp::DynamicValue::FLOAT:
    case capnp::DynamicValue::TEXT:
    case capnp::DynamicValue::DATA:
    case capnp::DynamicValue::BOOL:
    case capnp::DynamicValue::ENUM:
      return true;
    default:
      return false;
  }
}

bool entry_key::operator<(const entry_key& o) const {
  // (std::string compares as unsigned bytes, as std::less<std::string> does.)
  return std::tie(kind, i, u, f, bytes) < std::tie(o.kind, o.i, o.u, o.f, o.bytes);
}

entry_key key_of(const capnp::DynamicList::Reader& list, unsigned index) {
  capnp::DynamicValue::Reader v = list[index];
  if (v.getType() == capnp::DynamicValue::STRUCT) {
    capnp::DynamicStruct::Reader s = v.as<capnp::DynamicStruct>();
    KJ_IF_MAYBE(field, s.getSchema().findFieldByName("key")) {
      if (s.getSchema().findFieldByName("value") != nullptr) v = s.get(*field);
    }
  }
  entry_key k;
  k.kind = v.getType();
  switch (v.getType()) {
    case capnp::DynamicValue::INT:
      k.i = v.as<std::int64_t>();
      break;
    case capnp::DynamicValue::UINT:
      k.u = v.as<std::uint64_t>();
      break;
    case capnp::DynamicValue::FLOAT:
      k.f = v.as<double>();
      break;
    case capnp::DynamicValue::BOOL:
      k.u = v.as<bool>() ? 1 : 0;
      break;
    case capnp::DynamicValue::ENUM:
      k.u = v.as<capnp::DynamicEnum>().getRaw();
      break;
    case capnp::DynamicValue::TEXT: {
      capnp::Text::Reader t = v.as<capnp::Text>();
      k.bytes.assign(t.begin(), t.size());
      break;
    }
    case capnp::DynamicValue::DATA: {
      capnp::Data::Reader d = v.as<capnp::Data>();
      k.bytes.assign(reinterpret_cast<const char*>(d.begin()), d.size());
      break;
    }
    default:
      k.bytes = kj::str(v).cStr();
      break;
  }
  return k;
}

delta_overlay::delta_overlay(const storage::chunk_source& chunks, schema_library& schemas, std::uint64_t head,
                             field_path entries)
    : chunks_(chunks), schemas_(schemas), entries_(std::move(entries)) {
  struct parts_of_link {
    std::uint64_t set = 0, erased = 0;
  };
  std::vector<parts_of_link> links;  // newest first
  for (std::uint64_t id = head; id != 0;) {
    if (links.size() == kMaxLinks) {
      throw error("chunk " + std::to_string(head) + " starts a chain of more than " + std::to_string(kMaxLinks) +
                  " deltas");
    }
    const storage::chunk_view c = chunks_.get(id);
    const auto parts = c.node_type == kLinkNode ? link_parts(c) : std::nullopt;
    if (!parts) throw error("chunk " + std::to_string(id) + " is not the link of a delta");
    parts_of_link l;
    std::uint64_t previous = 0;
    for (std::size_t i = 0; i < parts->size(); ++i) {
      const std::uint64_t part = (*parts)[i];
      std::uint64_t* slot = part == kPreviousPart ? &previous
                            : part == kSetPart    ? &l.set
                            : part == kErasedPart ? &l.erased
                                                  : nullptr;
      if (!slot || *slot != 0) {
        throw error("chunk " + std::to_string(id) + " is a delta link whose part " + std::to_string(i) +
                    " is unknown or repeated");
      }
      *slot = c.children[i];
    }
    links.push_back(l);
    id = previous;
  }
  for (auto l = links.rbegin(); l != links.rend(); ++l) {
    if (l->erased) read_part(l->erased, kErasedNode);
    if (l->set) read_part(l->set, kSetNode);
  }
}

void delta_overlay::read_part(std::uint64_t id, std::uint64_t type) {
  const storage::chunk_view c = chunks_.get(id);
  if (c.node_type != type || !c.children.empty()) {
    throw error("chunk " + std::to_string(id) + " is not the " +
                (type == kSetNode ? "entries set" : "keys erased") + " of a delta");
  }
  const stored_schema& schema = schemas_.get(c.schema.fingerprint);
  if (!schema.root) throw error("chunk " + std::to_string(id) + ": " + schema.problem);
  // (A chunk's view may not outlive the next read: the lists keep a copy.)
  auto& words = payloads_.emplace_back(c.payload.size());
  std::memcpy(words.data(), c.payload.begin(), c.payload.size() * sizeof(capnp::word));
  auto& message = messages_.emplace_back(std::make_unique<storage::value_message>(
      kj::ArrayPtr<const capnp::word>(words.data(), words.size()), false,
      storage::reader_options_for(words.size())));
  capnp::DynamicStruct::Reader root = message->reader().getRoot<capnp::DynamicStruct>(*schema.root);
  const std::optional<capnp::DynamicList::Reader> list = list_at(root, entries_);
  if (!list) throw error("chunk " + std::to_string(id) + " does not hold a collection's entries");
  for (unsigned i = 0; i < list->size(); ++i) {
    change& ch = changes_[key_of(*list, i)];
    ch.erased = type == kErasedNode;
    ch.list = *list;
    ch.index = i;
  }
}

}  // namespace instadump::cli

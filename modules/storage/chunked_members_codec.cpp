// ChunkedMembers values: see chunked_members_codec.h.
#include "storage/chunked_members_codec.h"

#include <capnp/any.h>
#include <capnp/serialize.h>

#include <cstring>
#include <set>
#include <string_view>

#include "common/errors.h"
#include "schemas/snapshot.capnp.h"
#include "storage/manifest_codec.h"

namespace instadump::storage {

bool holds_chunked_members(kj::ArrayPtr<const capnp::word> words) noexcept {
  if (words.size() == 0) return false;
  std::uint64_t first;
  std::memcpy(&first, words.begin(), sizeof first);
  return (first >> 48) != 0;  // the root struct's pointer count
}

kj::Array<capnp::word> encode_chunked_members(capnp::MessageBuilder& value, std::span<const chunked_member> members) {
  const capnp::AnyStruct::Reader root = value.getRoot<capnp::AnyStruct>().asReader();
  std::size_t words = root.totalSize().wordCount + 8;
  for (const chunked_member& m : members) words += 6 + (m.path.size() + 8) / 8;
  capnp::MallocMessageBuilder message(static_cast<unsigned>(words), capnp::AllocationStrategy::FIXED_SIZE);
  auto out = message.initRoot<schema::ChunkedMembers>();
  out.getValue().setAs<capnp::AnyStruct>(root);
  auto list = out.initMembers(static_cast<unsigned>(members.size()));
  for (unsigned i = 0; i < members.size(); ++i) {
    const chunked_member& m = members[i];
    auto e = list[i];
    e.setPath(m.path);
    e.setRoot(m.root);
    e.setSize(m.size);
    e.setTail(m.tail);
    e.setDelta(m.delta);
  }
  const auto copy_of = [](kj::ArrayPtr<const capnp::word> segment) {
    auto out = kj::heapArray<capnp::word>(segment.size());
    std::memcpy(out.begin(), segment.begin(), segment.size() * sizeof(capnp::word));
    return out;
  };
  auto segments = message.getSegmentsForOutput();
  if (segments.size() == 1) return copy_of(segments[0]);
  // (Sizes above are generous; should a value still need a second segment,
  // copy it into one: values are stored as one unframed segment.)
  capnp::MallocMessageBuilder flat(static_cast<unsigned>(message.sizeInWords() + 8),
                                   capnp::AllocationStrategy::FIXED_SIZE);
  flat.setRoot(message.getRoot<schema::ChunkedMembers>().asReader());
  auto one = flat.getSegmentsForOutput();
  KJ_REQUIRE(one.size() == 1, "a ChunkedMembers value did not fit one segment");
  return copy_of(one[0]);
}

chunked_members_value::chunked_members_value(kj::ArrayPtr<const capnp::word> words, const std::string& where) {
  const auto fail = [&](const std::string& why) -> void {
    throw corrupt_data(where + ": its members stored node by node " + why);
  };
  try {
    kj::ArrayPtr<const capnp::word> segments[1] = {words};
    capnp::SegmentArrayMessageReader reader(kj::arrayPtr(segments, 1), reader_options_for(words.size()));
    auto root = reader.getRoot<schema::ChunkedMembers>();
    if (!root.hasValue()) fail("come with no value");
    auto list = root.getMembers();
    if (list.size() == 0) fail("are listed as none");
    std::set<std::string_view> paths;
    for (auto m : list) {
      chunked_member out;
      out.path = m.getPath();
      out.root = m.getRoot();
      out.size = m.getSize();
      out.tail = m.getTail();
      out.delta = m.getDelta();
      if (out.path.empty()) fail("include one without a path");
      if (out.root == 0 && out.tail == 0) fail("include '" + out.path + "', which names no chunk");
      members_.push_back(std::move(out));
    }
    for (const chunked_member& m : members_) {
      if (!paths.insert(m.path).second) fail("list '" + m.path + "' twice");
    }
    const capnp::AnyStruct::Reader value = root.getValue().getAs<capnp::AnyStruct>();
    capnp::MallocMessageBuilder copy(static_cast<unsigned>(value.totalSize().wordCount + 8),
                                     capnp::AllocationStrategy::FIXED_SIZE);
    copy.setRoot(value);
    value_words_ = capnp::messageToFlatArray(copy);
    value_ = kj::heap<capnp::FlatArrayMessageReader>(value_words_.asPtr(),
                                                     reader_options_for(value_words_.size()));
  } catch (const kj::Exception& e) {
    fail("do not decode (" + std::string(e.getDescription().cStr()) + ")");
  }
}

std::vector<std::uint64_t> chunked_members_value::roots() const {
  std::vector<std::uint64_t> out;
  for (const chunked_member& m : members_) {
    if (m.root) out.push_back(m.root);
    if (m.tail) out.push_back(m.tail);
    if (m.delta) out.push_back(m.delta);
  }
  return out;
}

}  // namespace instadump::storage

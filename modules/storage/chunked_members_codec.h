// The value bytes of a state whose members are collections stored node by
// node (format 7): the state's own message with those members empty, and
// where each member's chunks are (schemas/snapshot.capnp, ChunkedMembers).
// Shared by the runtime (save, load), the operators' tool and the fuzz
// target, so that every reader checks the same things.
#pragma once

#include "instadump/capnp_compat.h"  // before any Cap'n Proto header

#include <capnp/message.h>
#include <kj/array.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace instadump::storage {

// One member: its path (field names from the root struct, joined by '.')
// and its collection's descriptor parts (as ChunkedCollection's).
struct chunked_member {
  std::string path;
  std::uint64_t root = 0;
  std::uint64_t size = 0;
  std::uint64_t tail = 0;
  std::uint64_t delta = 0;
};

// Whether the bytes of a value that has chunk roots are ChunkedMembers
// (rather than a collection's descriptor, whose root struct has no
// pointers). Does not check anything else.
bool holds_chunked_members(kj::ArrayPtr<const capnp::word> words) noexcept;

// The bytes of a ChunkedMembers value (one segment, unframed) holding a copy
// of `value`'s root struct and `members`. REQUIRES: members not empty.
kj::Array<capnp::word> encode_chunked_members(capnp::MessageBuilder& value, std::span<const chunked_member> members);

// A decoded ChunkedMembers value: its members, and the state's message
// (members empty) as a message of its own for the state's codec.
class chunked_members_value {
 public:
  // Throws corrupt_data naming `where` when `words` are not a valid
  // ChunkedMembers value: no members, a member without a path or a root,
  // two members with one path, or a value that is not a struct.
  chunked_members_value(kj::ArrayPtr<const capnp::word> words, const std::string& where);

  const std::vector<chunked_member>& members() const noexcept { return members_; }
  capnp::MessageReader& value() { return *value_; }
  // The chunk roots the members refer to, in order: each member's root,
  // tail and delta, each if it has one (what the value's chunk roots must be).
  std::vector<std::uint64_t> roots() const;

 private:
  std::vector<chunked_member> members_;
  kj::Array<capnp::word> value_words_;
  kj::Own<capnp::MessageReader> value_;
};

}  // namespace instadump::storage

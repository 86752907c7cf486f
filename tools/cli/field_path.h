// Where a collection's entries are inside a message of a state's root
// struct: its `value` field for a state that is the collection, a member's
// field path for a state whose collection members are stored node by node
// (format 7, ChunkedMembers: "value.players"). A leaf of either holds its
// entries there, so the walk that shows a collection only needs the path.
#pragma once

#include "instadump/capnp_compat.h"  // before any Cap'n Proto header

#include <capnp/dynamic.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace instadump::cli {

// Field names from the root struct, outermost first.
using field_path = std::vector<std::string>;

// "value.inner.items" -> {"value", "inner", "items"}.
field_path split_field_path(std::string_view dotted);

// Whether `path` names a list field of `root`'s schema, reached through
// struct fields outside unions only (as the library's member paths are).
bool names_list_field(capnp::StructSchema root, const field_path& path);

// The list at `path` from `root`; nothing when a name is not a field there,
// a field on the way is a union member not set, or the value is not a list.
std::optional<capnp::DynamicList::Reader> list_at(capnp::DynamicStruct::Reader root, const field_path& path);

}  // namespace instadump::cli

// Cap'n Proto names for the model: struct, enum, field and enumerant names
// derived deterministically from the C++ names.
//
// Cap'n Proto wants UpperCamelCase type names and lowerCamelCase field and
// enumerant names without underscores; its C++ generator then spells
// enumerants and union tags in UPPER_SNAKE_CASE and accessors as getFooBar.
// The functions here own both directions so the schema and the codec agree.
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "model/model.h"

namespace instadump_codegen {

// "owner_name" -> "ownerName", "IDLE" -> "idle", "_x" -> "x"; never empty.
std::string lower_camel(std::string_view cpp_name);
// "shop", "item_list" -> "Shop", "ItemList".
std::string upper_camel(std::string_view cpp_name);
// What capnp's C++ generator calls an enumerant or union tag: "fooBar" -> "FOO_BAR".
std::string capnp_upper(std::string_view schema_name);
// What capnp's C++ generator uses in accessors: "fooBar" -> "FooBar".
std::string capnp_title(std::string_view schema_name);

// Assigns schema_name to every struct/enum type, member and enumerator,
// ordinals in declaration order, and root_name to every state, in a
// deterministic order (states by key, then depth first through members).
// REQUIRES: m.states sorted by key.
void assign_schema_names(model& m);

// The Cap'n Proto type expression for a type ("Int32", "List(Text)", "ShopItem").
std::string schema_type(const model& m, const std::string& type_key);

// `name`, or `name` followed by 2, 3, ... if `used` has it already; the
// result is added to `used`.
std::string unique_name(const std::string& name, std::set<std::string>& used);

}  // namespace instadump_codegen

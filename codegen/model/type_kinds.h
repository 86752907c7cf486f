// What each kind of type in the model is, in one place: its name in the
// schema history file, how Cap'n Proto represents it, and which other types
// of the model it holds.
//
// Adding a kind: its enumerator (model.h) and its name (type_kinds.cpp),
// then one case in each stage that switches over type_kind -- the reflector
// (scan/reflector.cpp), the namer (model/naming.cpp), the schema text
// (emit/schema_emitter.cpp), the comparison with the history
// (migrate/evolve.cpp, `compare`), the C++ types of the schema
// (emit/codec_context.cpp, `capnp_cpp`), and the encoder and decoder
// (emit/encoder.cpp, emit/decoder.cpp). Walks over the types a type holds
// (for_each_nested) need no change when the new kind keeps them in
// `element`, `key` and `value`.
#pragma once

#include <optional>
#include <string_view>

#include "model/model.h"

namespace instadump_codegen {

// The kind's name in the schema history file ("bool", "record", ...). Part
// of the history format: never rename one.
std::string_view kind_name(type_kind k);
// The kind named `name` in a history file, or nullopt for an unknown name.
std::optional<type_kind> kind_named(std::string_view name);

// True for kinds written as a generated Cap'n Proto struct.
bool is_struct_backed(type_kind k);
// True for kinds written as a Cap'n Proto list.
bool is_list_backed(type_kind k);

// Calls f(key) for each type `t` holds other than through its members: its
// element, key and value (those that are set). A data type's element is the
// C++ spelling of its byte type, not a type of the model, and is skipped.
template <class F>
void for_each_nested(const type_node& t, F&& f) {
  if (!t.element.empty() && t.kind != type_kind::data) f(t.element);
  if (!t.key.empty()) f(t.key);
  if (!t.value.empty()) f(t.value);
}

}  // namespace instadump_codegen

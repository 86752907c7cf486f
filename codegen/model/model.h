// The intermediate model: what instadump-codegen learned from the AST, with
// no Clang types in it.
//
// The reflector (scan/) fills it from one or more translation units, the
// namer (model/naming.h) names it, the schema history (migrate/) rewrites
// names and ordinals to agree with the locked ones, and the emitters (emit/)
// read it. Keeping it AST-free lets results of several source files merge,
// and lets the history step work between reflection and emission without
// touching either side. What each type_kind is: model/type_kinds.h.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace instadump_codegen {

// The shape of a reflected C++ type.
enum class type_kind {
  boolean,     // bool
  integer,     // any integer type of 8..64 bits (bits, is_signed)
  floating,    // float, double (bits)
  text,        // std::string
  data,        // std::vector<std::byte | std::uint8_t | unsigned char>
  enumeration, // enum / enum class (enumerators)
  record,      // struct or class with public data members (members)
  sequence,    // std::vector, std::deque, std::set, std::unordered_set (container, element)
  array,       // std::array<T, N> (element, array_size)
  map,         // std::map, std::unordered_map (container, key, value)
  optional,    // std::optional<T> (element)
  tuple,       // std::pair, std::tuple (members: "first"/"second" or "e0".., cpp_name = index)
  variant,     // std::variant (members: one per alternative, cpp_name = index)
  monostate,   // std::monostate
  duration,    // std::chrono::duration (element = the rep type)
  time_point,  // std::chrono::time_point (element = the rep type of its duration)
};

// A data member, tuple element or variant alternative.
struct member {
  std::string cpp_name;    // member name, or the index for tuples and variants
  std::string schema_name; // Cap'n Proto field name (lowerCamelCase, unique in its struct)
  std::string type;        // key into model::types
  // For a private or protected data member of a class marked
  // [[instadump::persist_private]]: the spelling of the class declaring it.
  // The codec then reaches it through a member pointer (emit/codec_context.h).
  std::string private_owner;
  // Cap'n Proto ordinal (@n), part of the stored format. The namer assigns
  // declaration order; the schema history (migrate/evolve.cpp) then restores the
  // locked ordinals and gives new members new ones.
  unsigned ordinal = 0;
  // [[instadump::renamed_from("old")]]: the member's previous C++ name.
  std::string renamed_from;
  // Obsolete members are kept in the schema so their ordinal is never reused:
  // removed members, and the old field of a member whose type changed. They
  // are never written. For removed pointer fields `type` is empty (AnyPointer).
  bool obsolete = false;
  // A member whose type changed in history version `since` took a new
  // ordinal; `replaces` is the ordinal of its previous field (obsolete now),
  // which data written before `since` uses. `widened` tells whether the old
  // value converts by itself (int32 -> int64, T -> optional<T>, ...) or the
  // record needs a user migration.
  unsigned since = 0;
  int replaces = -1;
  bool widened = false;
};

// A field that is not a C++ data member (a state's `value`, a map entry's
// `key`, ...): named `name` in C++ and in the schema.
inline member synthetic_field(const std::string& name, const std::string& type, unsigned ordinal) {
  member m;
  m.cpp_name = name;
  m.schema_name = name;
  m.type = type;
  m.ordinal = ordinal;
  return m;
}

struct enumerator {
  std::string cpp_name;    // as declared
  std::string schema_name; // Cap'n Proto enumerant name (lowerCamelCase, unique in its enum)
  unsigned ordinal = 0;    // Cap'n Proto ordinal, part of the stored format (see member::ordinal)
  bool obsolete = false;   // removed from the C++ enum; kept so the ordinal is never reused
};

struct type_node {
  type_kind kind = type_kind::boolean;
  std::string cpp;          // fully qualified C++ spelling usable in generated code
  std::string display;      // short name for messages, e.g. "Item"
  std::string qualified;    // qualified name without template arguments, for records and enums
  std::vector<std::string> template_args;  // name fragments of template arguments (records), e.g. "Int"
  int bits = 0;             // integer, floating
  bool is_signed = false;   // integer
  std::string container;    // sequence / map: "vector", "deque", "set", "unordered_set", "map", ...
  std::string element;      // sequence, array, optional, duration, time_point; for data, the
                            // byte type's C++ spelling (not a key into model::types)
  std::string key, value;   // map
  std::uint64_t array_size = 0;
  std::string unit;         // duration / time_point: the period, e.g. "1/1000000000 s"
  std::vector<member> members;
  std::vector<enumerator> enumerators;
  std::string schema_name;  // Cap'n Proto struct / enum name, assigned by the namer
  // History versions at which this record changed in a way that needs a user
  // migration (from the layout of version n-1 to that of n).
  std::vector<unsigned> migrations;
};

// One annotated global.
struct state {
  std::string key;          // fully qualified name without leading "::", e.g. "shop::visits"
  std::string cpp_expr;     // expression naming the ref in generated code, e.g. "::shop::visits"
  std::string type;         // key into model::types of T in instadump::ref<T>
  std::size_t source = 0;   // index of the scanned source that defines it
  std::string location;     // "file:line:col" of the definition, for messages
  std::string root_name;    // Cap'n Proto name of the root struct, assigned by the namer
  std::string renamed_from; // [[instadump::renamed_from("old::key")]] on the state
  // Earlier keys of this state (renames), oldest first; values stored under
  // them are loaded into this state.
  std::vector<std::string> previous_keys;
  // The state's schema version: 1, plus one for every history version that
  // changed a type reachable from it incompatibly. Stored with each value.
  unsigned version = 1;
  // For each state version v (index v - 1): the newest history version that
  // wrote it. Decoders use history versions.
  std::vector<unsigned> history_of_version{1};
  // Obsolete root fields: when the state's own type changes, `value @0` is
  // kept under another name and the new type gets a new ordinal.
  std::vector<member> root_fields;  // empty: one live field `value @0` of `type`
  // History versions at which the state's own type changed in a way that
  // needs a user migration (see type_node::migrations).
  std::vector<unsigned> migrations;
};

// The fields of a state's root struct: root_fields, or the single `value @0`.
inline std::vector<member> root_fields_of(const state& s) {
  if (!s.root_fields.empty()) return s.root_fields;
  return {synthetic_field("value", s.type, 0)};
}

// The live field among `fields` (a root struct's fields in some version),
// or the first one if all are obsolete.
inline const member& live_field(const std::vector<member>& fields) {
  for (const member& f : fields) {
    if (!f.obsolete) return f;
  }
  return fields.front();
}

// The member with Cap'n Proto ordinal `ordinal`, or null.
inline const member* by_ordinal(const std::vector<member>& ms, int ordinal) {
  for (const member& m : ms) {
    if (static_cast<int>(m.ordinal) == ordinal) return &m;
  }
  return nullptr;
}

struct model {
  std::map<std::string, type_node> types;  // by C++ spelling
  std::vector<state> states;               // sorted by key once reflection is done
  unsigned history_version = 1;            // the schema history version this model is
};

}  // namespace instadump_codegen

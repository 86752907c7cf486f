// The table of type kinds (see type_kinds.h).
#include "model/type_kinds.h"

namespace instadump_codegen {

std::string_view kind_name(type_kind k) {
  // No default: -Wswitch names a kind added to the enum without a name here.
  switch (k) {
    case type_kind::boolean: return "bool";
    case type_kind::integer: return "integer";
    case type_kind::floating: return "floating";
    case type_kind::text: return "text";
    case type_kind::data: return "data";
    case type_kind::enumeration: return "enum";
    case type_kind::record: return "record";
    case type_kind::sequence: return "sequence";
    case type_kind::array: return "array";
    case type_kind::map: return "map";
    case type_kind::optional: return "optional";
    case type_kind::tuple: return "tuple";
    case type_kind::variant: return "variant";
    case type_kind::monostate: return "monostate";
    case type_kind::duration: return "duration";
    case type_kind::time_point: return "time_point";
  }
  return {};  // past the last kind
}

std::optional<type_kind> kind_named(std::string_view name) {
  // The enumerators are numbered 0, 1, ... (type_kind has no explicit values).
  for (int k = 0; !kind_name(static_cast<type_kind>(k)).empty(); ++k) {
    if (kind_name(static_cast<type_kind>(k)) == name) return static_cast<type_kind>(k);
  }
  return std::nullopt;
}

bool is_struct_backed(type_kind k) {
  return k == type_kind::record || k == type_kind::optional || k == type_kind::tuple || k == type_kind::variant;
}

bool is_list_backed(type_kind k) {
  return k == type_kind::sequence || k == type_kind::array || k == type_kind::map;
}

}  // namespace instadump_codegen

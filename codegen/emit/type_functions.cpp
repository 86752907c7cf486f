// The dispatch by kind (see type_functions.h).
#include "emit/type_functions.h"

#include <stdexcept>

#include "model/type_kinds.h"

namespace instadump_codegen {

bool has_functions(type_kind k) { return k == type_kind::enumeration || is_struct_backed(k) || is_list_backed(k); }

std::string type_functions::functions(const std::string& key) const {
  const type_node& t = ctx_.type(key);
  switch (t.kind) {
    case type_kind::enumeration: return enum_functions(key, t);
    case type_kind::record: return record_functions(key, t);
    case type_kind::tuple: return tuple_functions(key, t);
    case type_kind::optional: return optional_functions(key, t);
    case type_kind::variant: return variant_functions(key, t);
    case type_kind::sequence:
    case type_kind::array: return sequence_functions(key, t);
    case type_kind::map: return map_functions(key, t);
    default: throw std::logic_error("no generated functions for the kind of " + t.cpp);
  }
}

}  // namespace instadump_codegen

// field_path.h: a collection's entries, found by their field path.
#include "field_path.h"

namespace instadump::cli {
namespace {

// Whether `field` is a union member (then only sometimes set).
bool in_union(const capnp::StructSchema::Field& field) {
  return field.getProto().getDiscriminantValue() != capnp::schema::Field::NO_DISCRIMINANT;
}

}  // namespace

field_path split_field_path(std::string_view dotted) {
  field_path out;
  for (std::size_t at = 0;;) {
    const std::size_t dot = dotted.find('.', at);
    out.emplace_back(dotted.substr(at, dot == std::string_view::npos ? std::string_view::npos : dot - at));
    if (dot == std::string_view::npos) return out;
    at = dot + 1;
  }
}

bool names_list_field(capnp::StructSchema root, const field_path& path) {
  capnp::StructSchema s = root;
  for (std::size_t i = 0; i < path.size(); ++i) {
    KJ_IF_MAYBE(field, s.findFieldByName(path[i])) {
      if (in_union(*field)) return false;
      const capnp::Type type = field->getType();
      if (i + 1 == path.size()) return type.isList();
      if (!type.isStruct()) return false;
      s = type.asStruct();
    } else {
      return false;
    }
  }
  return false;  // (an empty path)
}

std::optional<capnp::DynamicList::Reader> list_at(capnp::DynamicStruct::Reader root, const field_path& path) {
  capnp::DynamicStruct::Reader s = root;
  for (std::size_t i = 0; i < path.size(); ++i) {
    KJ_IF_MAYBE(field, s.getSchema().findFieldByName(path[i])) {
      if (in_union(*field)) {
        KJ_IF_MAYBE(active, s.which()) {
          if (*active != *field) return std::nullopt;
        } else {
          return std::nullopt;
        }
      }
      capnp::DynamicValue::Reader value = s.get(*field);
      if (i + 1 == path.size()) {
        if (value.getType() != capnp::DynamicValue::LIST) return std::nullopt;
        return value.as<capnp::DynamicList>();
      }
      if (value.getType() != capnp::DynamicValue::STRUCT) return std::nullopt;
      s = value.as<capnp::DynamicStruct>();
    } else {
      return std::nullopt;
    }
  }
  return std::nullopt;  // (an empty path)
}

}  // namespace instadump::cli

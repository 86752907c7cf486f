// value_walker.h: one decoded value, field by field, into an emitter.
#include "value_walker.h"

#include <kj/exception.h>

#include <utility>

#include "progress.h"

namespace instadump::cli {
namespace {

bool is_composite(capnp::Type type) { return type.isStruct() || type.isList(); }

std::string describe(const kj::Exception& e) { return e.getDescription().cStr(); }

}  // namespace

void value_walker::report(const std::string& what) {
  if (problems_++ == 0) first_problem_ = what;
  out_.problem(what);
}

void value_walker::report_element(const std::string& what) {
  out_.element();
  report(what);
}

void value_walker::take_fields(std::string root_path, field_taker take) {
  path_ = std::move(root_path);
  take_ = std::move(take);
}

void value_walker::begin_outer_list(std::size_t size, bool composite) {
  ++list_depth_;
  out_.begin_list(size, composite);
  if (progress_ != nullptr) progress_->expect(size);
}

void value_walker::end_outer_list() {
  out_.end_list();
  --list_depth_;
}

void value_walker::count_element() {
  if (progress_ != nullptr) progress_->advance();
}

void value_walker::walk(const capnp::DynamicValue::Reader& value) {
  switch (value.getType()) {
    case capnp::DynamicValue::VOID:
      out_.void_value();
      return;
    case capnp::DynamicValue::BOOL:
      out_.boolean(value.as<bool>());
      return;
    case capnp::DynamicValue::INT:
      out_.signed_integer(value.as<std::int64_t>());
      return;
    case capnp::DynamicValue::UINT:
      out_.unsigned_integer(value.as<std::uint64_t>());
      return;
    case capnp::DynamicValue::FLOAT:
      out_.floating(value.as<double>(), false);
      return;
    case capnp::DynamicValue::TEXT: {
      capnp::Text::Reader t = value.as<capnp::Text>();
      out_.text(std::string_view(t.begin(), t.size()));
      return;
    }
    case capnp::DynamicValue::DATA: {
      capnp::Data::Reader d = value.as<capnp::Data>();
      out_.data(std::span(reinterpret_cast<const std::byte*>(d.begin()), d.size()));
      return;
    }
    case capnp::DynamicValue::ENUM: {
      capnp::DynamicEnum e = value.as<capnp::DynamicEnum>();
      KJ_IF_MAYBE(enumerant, e.getEnumerant()) {
        out_.enumerant(enumerant->getProto().getName().cStr(), e.getRaw());
      } else {
        out_.enumerant({}, e.getRaw());
      }
      return;
    }
    case capnp::DynamicValue::STRUCT:
      walk_struct(value.as<capnp::DynamicStruct>());
      return;
    case capnp::DynamicValue::LIST:
      walk_list(value.as<capnp::DynamicList>());
      return;
    case capnp::DynamicValue::ANY_POINTER:
      report("an AnyPointer field (not written by Instadump)");
      return;
    case capnp::DynamicValue::CAPABILITY:
      report("an interface field (not written by Instadump)");
      return;
    case capnp::DynamicValue::UNKNOWN:
      break;
  }
  report("a value of unknown type");
}

void value_walker::walk_field(const capnp::DynamicStruct::Reader& parent, const capnp::StructSchema::Field& field) {
  out_.field(field.getProto().getName().cStr());
  // (Inside a list, a field is one of many: no path names it.)
  if (!take_ || list_depth_ > 0) return walk_field_value(parent, field);
  const std::size_t length = path_.size();
  if (!path_.empty()) path_ += '.';
  path_ += field.getProto().getName().cStr();
  KJ_DEFER(path_.resize(length));  // (the path stays the field's while its value is walked)
  if (!take_(path_, parent, field)) walk_field_value(parent, field);
}

void value_walker::walk_field_value(const capnp::DynamicStruct::Reader& parent,
                                    const capnp::StructSchema::Field& field) {
  try {
    capnp::DynamicValue::Reader v = parent.get(field);
    // A Float32 is widened to double by the dynamic API: say so, so that it
    // is written with the digits a float needs.
    if (field.getType().which() == capnp::schema::Type::FLOAT32) {
      out_.floating(v.as<double>(), true);
      return;
    }
    walk(v);
  } catch (const kj::Exception& e) {
    report("field " + std::string(field.getProto().getName().cStr()) + " does not decode: " + describe(e));
  }
}

void value_walker::walk_element(const capnp::DynamicList::Reader& list, unsigned index) {
  out_.element();
  try {
    capnp::DynamicValue::Reader v = list[index];
    if (list.getSchema().getElementType().which() == capnp::schema::Type::FLOAT32) {
      out_.floating(v.as<double>(), true);
      return;
    }
    walk(v);
  } catch (const kj::Exception& e) {
    report("element " + std::to_string(index) + " does not decode: " + describe(e));
  }
}

void value_walker::walk_struct(const capnp::DynamicStruct::Reader& s) {
  out_.begin_struct();
  capnp::StructSchema schema = s.getSchema();
  for (capnp::StructSchema::Field field : schema.getNonUnionFields()) walk_field(s, field);
  if (schema.getUnionFields().size() > 0) {
    try {
      KJ_IF_MAYBE(active, s.which()) {
        walk_field(s, *active);
      } else {
        out_.field("$unknown_union_member");
        report("a union member this schema does not know (written by a newer build)");
      }
    } catch (const kj::Exception& e) {
      report("the union does not decode: " + describe(e));
    }
  }
  out_.end_struct();
}

void value_walker::walk_list(const capnp::DynamicList::Reader& list) {
  const bool outermost = list_depth_ == 0;
  if (outermost) {
    begin_outer_list(list.size(), is_composite(list.getSchema().getElementType()));
  } else {
    ++list_depth_;
    out_.begin_list(list.size(), is_composite(list.getSchema().getElementType()));
  }
  for (unsigned i = 0; i < list.size(); ++i) {
    walk_element(list, i);
    if (outermost) count_element();
  }
  out_.end_list();
  --list_depth_;
}

bool value_walker::composite_elements(const capnp::DynamicList::Reader& list) {
  return is_composite(list.getSchema().getElementType());
}

}  // namespace instadump::cli

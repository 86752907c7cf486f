// The generated encoders (see encoder.h).
#include "emit/encoder.h"

#include "model/naming.h"

namespace instadump_codegen {

encoder::slot encoder::field_slot(const std::string& object, const std::string& schema_name) {
  return slot{object, capnp_title(schema_name), {}};
}

encoder::slot encoder::element_slot(const std::string& list, const std::string& index) {
  return slot{list, {}, index};
}

std::string encoder::declaration(const std::string& key) const {
  const type_node& t = ctx_.type(key);
  if (t.kind == type_kind::enumeration) {
    return ctx_.capnp_cpp(key) + " " + ctx_.fn("encode_", key) + "(" + t.cpp + " v);\n";
  }
  return "void " + ctx_.fn("encode_", key) + "(const " + t.cpp + "& v, " + ctx_.capnp_cpp(key) + "::Builder b);\n";
}

std::string encoder::store(const std::string& key, const std::string& value, const slot& s) const {
  const type_node& t = ctx_.type(key);
  bool field = !s.field.empty();
  auto set = [&](const std::string& v) {
    return field ? s.object + ".set" + s.field + "(" + v + ");" : s.object + ".set(" + s.index + ", " + v + ");";
  };
  switch (t.kind) {
    case type_kind::boolean:
    case type_kind::integer:
    case type_kind::floating: return set(value);
    case type_kind::enumeration: return set(ctx_.fn("encode_", key) + "(" + value + ")");
    case type_kind::text: return set("::capnp::Text::Reader(" + value + ".data(), " + value + ".size())");
    case type_kind::data:
      return set("::capnp::Data::Reader(reinterpret_cast<const ::kj::byte*>(" + value + ".data()), " + value +
                 ".size())");
    case type_kind::monostate: return field ? s.object + ".set" + s.field + "();" : set("::capnp::VOID");
    case type_kind::duration: return set(value + ".count()");
    case type_kind::time_point: return set(value + ".time_since_epoch().count()");
    case type_kind::sequence:
    case type_kind::array:
    case type_kind::map: {
      std::string size = "list_size(" + value + ".size(), " + string_literal(t.display) + ")";
      std::string target = field ? s.object + ".init" + s.field + "(" + size + ")"
                                 : s.object + ".init(" + s.index + ", " + size + ")";
      return ctx_.fn("encode_", key) + "(" + value + ", " + target + ");";
    }
    default: {
      std::string target = field ? s.object + ".init" + s.field + "()" : s.object + "[" + s.index + "]";
      return ctx_.fn("encode_", key) + "(" + value + ", " + target + ");";
    }
  }
}

std::string encoder::head(const std::string& key, const type_node& t) const {
  return "void " + ctx_.fn("encode_", key) + "(const " + t.cpp + "& v, " + ctx_.capnp_cpp(key) + "::Builder b) {\n";
}

// Enumerators map one to one onto enumerants; a value that is none of them is an error.
std::string encoder::enum_functions(const std::string& key, const type_node& t) const {
  std::string tags = ctx_.capnp_cpp(key);
  std::string s = tags + " " + ctx_.fn("encode_", key) + "(" + t.cpp + " v) {\n  switch (v) {\n";
  for (auto& e : t.enumerators) {
    if (e.obsolete) continue;
    s += "    case " + t.cpp + "::" + e.cpp_name + ": return " + tags + "::" + capnp_upper(e.schema_name) + ";\n";
  }
  return s + "  }\n  throw std::invalid_argument(\"instadump: cannot save " + t.display +
         " value \" + std::to_string(static_cast<long long>(v)) + \": not one of its enumerators\");\n}\n";
}

// Obsolete members are never written.
std::string encoder::record_functions(const std::string& key, const type_node& t) const {
  std::string s = head(key, t);
  bool any = false;
  for (auto& mem : t.members) {
    if (mem.obsolete) continue;
    any = true;
    s += "  " + store(mem.type, ctx_.member_of(key, mem, "v"), field_slot("b", mem.schema_name)) + "\n";
  }
  if (!any) s += "  (void)v;\n  (void)b;\n";
  return s + "}\n";
}

std::string encoder::tuple_functions(const std::string& key, const type_node& t) const {
  std::string s = head(key, t);
  for (auto& mem : t.members) {
    s += "  " + store(mem.type, "std::get<" + mem.cpp_name + ">(v)", field_slot("b", mem.schema_name)) + "\n";
  }
  return s + "}\n";
}

std::string encoder::optional_functions(const std::string& key, const type_node& t) const {
  return head(key, t) + "  if (!v.has_value()) {\n    b.setNone();\n    return;\n  }\n  " +
         store(t.element, "(*v)", field_slot("b", "value")) + "\n}\n";
}

// The alternative's index is the union member.
std::string encoder::variant_functions(const std::string& key, const type_node& t) const {
  std::string s = head(key, t) + "  switch (v.index()) {\n";
  for (std::size_t i = 0; i < t.members.size(); ++i) {
    auto& mem = t.members[i];
    s += "    case " + std::to_string(i) + ":\n      " +
         store(mem.type, "(*std::get_if<" + mem.cpp_name + ">(&v))", field_slot("b", mem.schema_name)) +
         "\n      return;\n";
  }
  return s + "  }\n  throw std::invalid_argument(\"instadump: cannot save a valueless std::variant\");\n}\n";
}

std::string encoder::sequence_functions(const std::string& key, const type_node& t) const {
  return head(key, t) + "  ::capnp::uint i = 0;\n  for (const auto& e : v) {\n    " +
         store(t.element, "e", element_slot("b", "i")) + "\n    ++i;\n  }\n}\n";
}

// Maps are lists of key/value entries.
std::string encoder::map_functions(const std::string& key, const type_node& t) const {
  return head(key, t) + "  ::capnp::uint i = 0;\n  for (const auto& [key, value] : v) {\n" +
         "    auto e = b[i];\n    " + store(t.key, "key", field_slot("e", "key")) + "\n    " +
         store(t.value, "value", field_slot("e", "value")) + "\n    ++i;\n  }\n}\n";
}

std::string encoder::state_encoder(const state& s) const {
  const type_node& t = ctx_.type(s.type);
  std::vector<member> fields = root_fields_of(s);
  return "void encode_state_" + codec_context::state_id(s) + "(const " + t.cpp +
         "& v, ::capnp::MessageBuilder& message) {\n" + "  auto b = message.initRoot<" +
         ctx_.capnp_struct(s.root_name) + ">();\n  " +
         store(s.type, "v", field_slot("b", live_field(fields).schema_name)) + "\n}\n";
}

std::string encoder::state_words_encoder(const state& s) const {
  const type_node& t = ctx_.type(s.type);
  const std::string capnp_type = ctx_.capnp_cpp(s.type);
  std::string value;
  switch (t.kind) {
    case type_kind::boolean: value = "v"; break;
    case type_kind::integer:
    case type_kind::floating: value = "static_cast<" + capnp_type + ">(v)"; break;
    case type_kind::duration: value = "static_cast<" + capnp_type + ">(v.count())"; break;
    case type_kind::time_point: value = "static_cast<" + capnp_type + ">(v.time_since_epoch().count())"; break;
    default: return {};
  }
  const struct_layout& root = ctx_.layout(s.root_name);
  if (root.pointer_count != 0) return {};
  std::vector<member> fields = root_fields_of(s);
  return "std::size_t encode_words_state_" + codec_context::state_id(s) + "(const " + t.cpp +
         "& v, ::std::span<::capnp::word> out) {\n" + "  return scalar_struct_words<" + capnp_type + ">(out, " +
         std::to_string(root.data_words) + "u, " +
         std::to_string(ctx_.layout(s.root_name, live_field(fields).schema_name).offset) + "u, " + value + ");\n}\n";
}

}  // namespace instadump_codegen

// The generated encoders (see encoder.h).
#include "emit/encoder.h"

#include <set>
#include <vector>

#include "model/naming.h"
#include "model/type_kinds.h"

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
  return result_type(key) + " " + ctx_.fn("encode_", key) + "(const " + t.cpp + "& v, " + ctx_.capnp_cpp(key) +
         "::Builder b);\n";
}

std::string encoder::result_type(const std::string& key) const {
  return ctx_.depth().dynamic(key) ? "unsigned" : "void";
}

std::string encoder::opening(const std::string& key, unsigned levels) const {
  return ctx_.depth().dynamic(key) ? "  unsigned levels = " + std::to_string(levels) + "u;\n" : "";
}

std::string encoder::closing(const std::string& key) const {
  return ctx_.depth().dynamic(key) ? "  return levels;\n" : "";
}

std::string encoder::call(const std::string& key, const std::string& call, bool own_pointer) const {
  if (!ctx_.depth().dynamic(key)) return call + ";";
  return "deepen(levels, " + std::string(own_pointer ? "1 + " : "") + call + ");";
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
    case type_kind::text: return set("text_of(" + value + ")");
    case type_kind::data: return set("data_of(" + value + ", " + string_literal(t.display) + ")");
    case type_kind::monostate: return field ? s.object + ".set" + s.field + "();" : set("::capnp::VOID");
    case type_kind::duration: return set(value + ".count()");
    case type_kind::time_point: return set(value + ".time_since_epoch().count()");
    case type_kind::sequence:
    case type_kind::array:
    case type_kind::map: {
      std::string size = "list_size(" + value + ".size(), " + string_literal(t.display) + ")";
      std::string target = field ? s.object + ".init" + s.field + "(" + size + ")"
                                 : s.object + ".init(" + s.index + ", " + size + ")";
      return call(key, ctx_.fn("encode_", key) + "(" + value + ", " + target + ")", true);
    }
    default: {
      std::string target = field ? s.object + ".init" + s.field + "()" : s.object + "[" + s.index + "]";
      return call(key, ctx_.fn("encode_", key) + "(" + value + ", " + target + ")",
                  field || !ctx_.depth().inline_element(key));
    }
  }
}

std::string encoder::head(const std::string& key, const type_node& t) const {
  return result_type(key) + " " + ctx_.fn("encode_", key) + "(const " + t.cpp + "& v, " + ctx_.capnp_cpp(key) + "::Builder b) {\n";
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
  std::string s = head(key, t) + opening(key, ctx_.depth().inner(key));
  bool any = false;
  for (auto& mem : t.members) {
    if (mem.obsolete) continue;
    any = true;
    s += "  " + store(mem.type, ctx_.member_of(key, mem, "v"), field_slot("b", mem.schema_name)) + "\n";
  }
  if (!any) s += "  (void)v;\n  (void)b;\n";
  return s + closing(key) + "}\n";
}

std::string encoder::tuple_functions(const std::string& key, const type_node& t) const {
  std::string s = head(key, t) + opening(key, ctx_.depth().inner(key));
  for (auto& mem : t.members) {
    s += "  " + store(mem.type, "std::get<" + mem.cpp_name + ">(v)", field_slot("b", mem.schema_name)) + "\n";
  }
  return s + closing(key) + "}\n";
}

std::string encoder::optional_functions(const std::string& key, const type_node& t) const {
  const bool measured = ctx_.depth().dynamic(key);  // then the value is, and `levels` starts at 0
  return head(key, t) + opening(key, 0) + "  if (!v.has_value()) {\n    b.setNone();\n    return" +
         (measured ? " levels" : "") + ";\n  }\n  " + store(t.element, "(*v)", field_slot("b", "value")) + "\n" +
         closing(key) + "}\n";
}

// The alternative's index is the union member. Measured, each alternative
// says what it took: `levels` (measured) or its static depth.
std::string encoder::variant_functions(const std::string& key, const type_node& t) const {
  const bool measured = ctx_.depth().dynamic(key);
  std::string s = head(key, t) + opening(key, 0) + "  switch (v.index()) {\n";
  for (std::size_t i = 0; i < t.members.size(); ++i) {
    auto& mem = t.members[i];
    std::string result;
    if (measured) {
      result = ctx_.depth().dynamic(mem.type) ? " levels" : " " + std::to_string(ctx_.depth().slot(mem.type)) + "u";
    }
    s += "    case " + std::to_string(i) + ":\n      " +
         store(mem.type, "(*std::get_if<" + mem.cpp_name + ">(&v))", field_slot("b", mem.schema_name)) +
         "\n      return" + result + ";\n";
  }
  return s + "  }\n  throw std::invalid_argument(\"instadump: cannot save a valueless std::variant\");\n}\n";
}

std::string encoder::sequence_functions(const std::string& key, const type_node& t) const {
  return head(key, t) + opening(key, ctx_.depth().inner(key)) + "  ::capnp::uint i = 0;\n" +
         "  for (const auto& e : v) {\n    " + store(t.element, "e", element_slot("b", "i")) + "\n    ++i;\n  }\n" +
         closing(key) + "}\n";
}

// Maps are lists of key/value entries.
std::string encoder::map_functions(const std::string& key, const type_node& t) const {
  return head(key, t) + opening(key, ctx_.depth().inner(key)) +
         "  ::capnp::uint i = 0;\n  for (const auto& [key, value] : v) {\n" + "    auto e = b[i];\n    " +
         store(t.key, "key", field_slot("e", "key")) + "\n    " + store(t.value, "value", field_slot("e", "value")) +
         "\n    ++i;\n  }\n" + closing(key) + "}\n";
}

bool encoder::holds_empty_elements(const std::string& key) const {
  auto empty = [&](const std::string& struct_name) {
    const struct_layout& l = ctx_.layout(struct_name);
    return l.data_words == 0 && l.pointer_count == 0;
  };
  std::set<std::string> seen{key};
  std::vector<std::string> todo{key};
  while (!todo.empty()) {
    const type_node& t = ctx_.type(todo.back());
    todo.pop_back();
    if (t.kind == type_kind::map && empty(t.schema_name)) return true;
    if (is_list_backed(t.kind) && t.kind != type_kind::map) {
      const type_node& e = ctx_.type(t.element);
      if (e.kind == type_kind::monostate || (is_struct_backed(e.kind) && empty(e.schema_name))) return true;
    }
    for_each_written(ctx_.model_of(), t, [&](const std::string& k) {
      if (seen.insert(k).second) todo.push_back(k);
    });
  }
  return false;
}

// A value beyond a ceiling of the format is refused naming the state: the
// encoders below it throw over_limit (codec_support.h) without knowing it.
std::string encoder::state_encoder(const state& s) const {
  const type_node& t = ctx_.type(s.type);
  std::vector<member> fields = root_fields_of(s);
  const bool measured = ctx_.depth().dynamic(s.type);
  std::string body = "  auto b = message.initRoot<" + ctx_.capnp_struct(s.root_name) + ">();\n" +
                     opening(s.type, 0) + "  " + store(s.type, "v", field_slot("b", live_field(fields).schema_name)) +
                     "\n" + (measured ? "  check_nesting(1 + levels);  // its root struct, then the value\n" : "") +
                     (holds_empty_elements(s.type) ? "  check_traversal(message);\n" : "");
  std::string head = "void encode_state_" + codec_context::state_id(s) + "(const " + t.cpp +
                     "& v, ::capnp::MessageBuilder& message)";
  if (!measured && !ctx_.depth().holds_lengths(s.type)) return head + " {\n" + body + "}\n";
  return head + " try {\n" + body + "} catch (const over_limit& e) {\n  throw ::instadump::limit_exceeded(refusal(" +
         string_literal(s.key) + ", e), e.limit, e.measured);\n}\n";
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

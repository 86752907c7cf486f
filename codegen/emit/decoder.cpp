// The generated decoders (see decoder.h).
#include "emit/decoder.h"

#include "model/naming.h"
#include "model/type_kinds.h"

namespace instadump_codegen {

decoder::read_slot decoder::field_read(const std::string& object, const std::string& struct_name,
                                       const std::string& field) const {
  return read_slot{object, &ctx_.layout(struct_name, field), {}};
}

decoder::read_slot decoder::element_read(const std::string& list, const std::string& index) {
  return read_slot{list, nullptr, index};
}

std::string decoder::wire_reader(const type_node& t) {
  return is_list_backed(t.kind) ? "::instadump::wire::list_reader" : "::instadump::wire::struct_reader";
}

std::string decoder::declarations(const std::string& key) const {
  const type_node& t = ctx_.type(key);
  if (t.kind == type_kind::enumeration) {
    return t.cpp + " " + ctx_.fn("decode_", key) + "(" + ctx_.capnp_cpp(key) +
           " v, const char* where, unsigned dv);\n";
  }
  std::string r = wire_reader(t);
  std::string d = t.cpp + " " + ctx_.fn("decode_", key) + "(" + r + " r, const char* where, unsigned dv);\n";
  if (t.kind == type_kind::record) {
    d += "void " + ctx_.fn("decode_into_", key) + "(" + r + " r, " + t.cpp + "& v, const char* where, unsigned dv);\n";
  }
  return d;
}

std::string decoder::discriminant(const std::string& key) const {
  const type_node& t = ctx_.type(key);
  return "r.data<::std::uint16_t>(" + std::to_string(ctx_.layout(t.schema_name).discriminant_offset) + ")";
}

std::string decoder::which(const std::string& key) const {
  return "static_cast<" + ctx_.capnp_cpp(key) + "::Which>(" + discriminant(key) + ")";
}

std::string decoder::element_size(const std::string& key) const {
  const type_node& t = ctx_.type(key);
  std::string e = "::instadump::wire::element::";
  switch (t.kind) {
    case type_kind::boolean: return e + "bit";
    case type_kind::integer:
    case type_kind::floating:
      return e + (t.bits == 8 ? "byte" : t.bits == 16 ? "two" : t.bits == 32 ? "four" : "eight");
    case type_kind::enumeration: return e + "two";
    case type_kind::duration:
    case type_kind::time_point: return element_size(t.element);
    case type_kind::monostate: return e + "void_";
    case type_kind::text:
    case type_kind::data:
    case type_kind::sequence:
    case type_kind::array:
    case type_kind::map: return e + "pointer";
    default: return e + "composite";
  }
}

std::string decoder::load(const std::string& key, const read_slot& s, const std::string& where, bool as_view) const {
  const type_node& t = ctx_.type(key);
  const bool field = s.field != nullptr;
  const std::string at = field ? std::to_string(s.field->offset) : s.index;
  auto scalar = [&](const std::string& type) {
    return s.object + (field ? ".data<" : ".get<") + type + ">(" + at + ")";
  };
  switch (t.kind) {
    case type_kind::boolean: return s.object + ".bit(" + at + ")";
    case type_kind::integer:
    case type_kind::floating: return "static_cast<" + t.cpp + ">(" + scalar(ctx_.capnp_cpp(key)) + ")";
    case type_kind::enumeration:
      return ctx_.fn("decode_", key) + "(static_cast<" + ctx_.capnp_cpp(key) + ">(" + scalar("::std::uint16_t") +
             "), " + where + ", dv)";
    case type_kind::text:
      return as_view ? s.object + ".text(" + at + ")" : "::std::string(" + s.object + ".text(" + at + "))";
    case type_kind::data: return "to_bytes<" + t.cpp + ">(" + s.object + ".blob(" + at + "))";
    case type_kind::monostate: return t.cpp + "{}";
    case type_kind::duration: return t.cpp + "(" + scalar(ctx_.capnp_cpp(key)) + ")";
    case type_kind::time_point: return t.cpp + "(" + t.cpp + "::duration(" + scalar(ctx_.capnp_cpp(key)) + "))";
    default: break;
  }
  std::string reader;
  if (is_list_backed(t.kind)) {
    std::string size = t.kind == type_kind::map ? "::instadump::wire::element::composite" : element_size(t.element);
    reader = s.object + (field ? ".list(" : ".list_at(") + at + ", " + size + ")";
  } else {
    reader = s.object + (field ? ".child(" : ".struct_at(") + at + ")";
  }
  return ctx_.fn("decode_", key) + "(" + reader + ", " + where + ", dv)";
}

std::string decoder::read_member(const std::string& struct_name, const std::vector<member>& fields,
                                 const std::vector<member>& layout, const member& mem, const std::string& where,
                                 bool as_view) const {
  const member* f = by_ordinal(fields, static_cast<int>(mem.ordinal));
  const read_slot slot = field_read("r", struct_name, f ? f->schema_name : mem.schema_name);
  if (mem.replaces < 0 || !mem.widened) return load(mem.type, slot, where, as_view);
  std::string x = load(mem.type, slot, where);
  const member* old = by_ordinal(layout, mem.replaces);
  if (!old) return x;
  std::string y = widen(mem.type, read_member(struct_name, fields, layout, *old, where));
  return "(dv < " + std::to_string(mem.since) + " ? " + y + " : " + x + ")";
}

std::string decoder::widen(const std::string& to, const std::string& expr) const {
  const type_node& t = ctx_.type(to);
  switch (t.kind) {
    case type_kind::optional: return t.cpp + "(std::in_place, " + expr + ")";
    case type_kind::sequence: return t.cpp + "{" + expr + "}";
    default: return "static_cast<" + t.cpp + ">(" + expr + ")";
  }
}

std::string decoder::head(const std::string& key, const type_node& t) const {
  return t.cpp + " " + ctx_.fn("decode_", key) + "(" + wire_reader(t) +
         " r, [[maybe_unused]] const char* where, [[maybe_unused]] unsigned dv) {\n";
}

// Enumerants map one to one onto enumerators; a removed or unknown one is an error.
std::string decoder::enum_functions(const std::string& key, const type_node& t) const {
  std::string tags = ctx_.capnp_cpp(key);
  std::string s = t.cpp + " " + ctx_.fn("decode_", key) + "(" + tags + " v, const char* where, unsigned) {\n" +
                  "  switch (v) {\n";
  for (auto& e : t.enumerators) {
    if (e.obsolete) {
      s += "    case " + tags + "::" + capnp_upper(e.schema_name) + ": fail(where, \"enumerator " + e.cpp_name +
           " of " + t.display + " was removed from the program\");\n";
      continue;
    }
    s += "    case " + tags + "::" + capnp_upper(e.schema_name) + ": return " + t.cpp + "::" + e.cpp_name + ";\n";
  }
  return s + "  }\n  fail(where, \"enumerant \" + std::to_string(static_cast<unsigned>(v)) + \" is not a value of " +
         t.display + " (it has " + std::to_string(t.enumerators.size()) + "; written by a newer build?)\");\n}\n";
}

// Members are read into a value-initialized object; errors name "Type::member".
// decode_into reads into an object the caller owns, so that a list of
// records builds each element in place (no move).
std::string decoder::record_functions(const std::string& key, const type_node& t) const {
  std::string s = head(key, t) + "  " + t.cpp + " v{};\n  " + ctx_.fn("decode_into_", key) +
                  "(r, v, where, dv);\n  return v;\n}\n";
  s += "void " + ctx_.fn("decode_into_", key) + "(" + wire_reader(t) + " r, " + t.cpp +
       "& v, [[maybe_unused]] const char* where, [[maybe_unused]] unsigned dv) {\n";
  if (!t.migrations.empty()) {
    unsigned last = t.migrations.back();
    s += "  if (dv < " + std::to_string(last) + ") {\n    v = ::instadump::schema::migrate(" +
         ctx_.older_decoder(key, last - 1) + "(r, where, dv));\n    return;\n  }\n";
  }
  bool any = false;
  for (auto& mem : t.members) {
    if (mem.obsolete) continue;
    any = true;
    s += "  " + ctx_.member_of(key, mem, "v") + " = " +
         read_member(t.schema_name, t.members, t.members, mem, string_literal(t.display + "::" + mem.cpp_name), true) +
         ";\n";
  }
  if (!any) s += "  (void)r;\n  (void)v;\n";
  return s + "}\n";
}

std::string decoder::tuple_functions(const std::string& key, const type_node& t) const {
  std::string s = head(key, t) + "  " + t.cpp + " v{};\n";
  for (auto& mem : t.members) {
    s += "  std::get<" + mem.cpp_name + ">(v) = " +
         load(mem.type, field_read("r", t.schema_name, mem.schema_name), "where") + ";\n";
  }
  return s + "  return v;\n}\n";
}

std::string decoder::optional_functions(const std::string& key, const type_node& t) const {
  return head(key, t) + "  switch (" + which(key) + ") {\n    case " + ctx_.capnp_cpp(key) + "::NONE: return " +
         t.cpp + "();\n" + "    case " + ctx_.capnp_cpp(key) + "::VALUE: return " + t.cpp + "(std::in_place, " +
         load(t.element, field_read("r", t.schema_name, "value"), "where") + ");\n  }\n" +
         "  fail(where, \"unknown std::optional tag \" + std::to_string(" + discriminant(key) + "));\n}\n";
}

// The union member is the alternative's index; an unknown tag (a newer writer) is an error.
std::string decoder::variant_functions(const std::string& key, const type_node& t) const {
  std::string s = head(key, t) + "  switch (" + which(key) + ") {\n";
  for (auto& mem : t.members) {
    s += "    case " + ctx_.capnp_cpp(key) + "::" + capnp_upper(mem.schema_name) + ":\n      return " + t.cpp +
         "(std::in_place_index<" + mem.cpp_name + ">, " +
         load(mem.type, field_read("r", t.schema_name, mem.schema_name), "where") + ");\n";
  }
  return s + "  }\n  fail(where, \"unknown std::variant alternative \" + std::to_string(" + discriminant(key) +
         "));\n}\n";
}

// Lists: std::array checks its length, sets reject duplicates (a set never has them).
std::string decoder::sequence_functions(const std::string& key, const type_node& t) const {
  std::string s = head(key, t);
  std::string x = load(t.element, element_read("r", "i"), "where");
  if (t.kind == type_kind::array) {
    std::string n = std::to_string(t.array_size);
    return s + "  if (r.size() != " + n + ") fail(where, \"expected a std::array of " + n +
           " elements, found \" + std::to_string(r.size()));\n  " + t.cpp + " v{};\n" +
           "  for (::capnp::uint i = 0; i < r.size(); ++i) v[i] = " + x + ";\n  return v;\n}\n";
  }
  s += "  " + t.cpp + " v;\n";
  if (t.container == "vector" || t.container == "unordered_set") s += "  v.reserve(r.size());\n";
  s += "  for (::capnp::uint i = 0; i < r.size(); ++i) {\n";
  if ((t.container == "vector" || t.container == "deque") && ctx_.type(t.element).kind == type_kind::record) {
    s += "    " + ctx_.fn("decode_into_", t.element) + "(r.struct_at(i), v.emplace_back(), where, dv);\n";
  } else if (t.container == "vector" || t.container == "deque") {
    // Text is constructed in place from its view into the message.
    s += "    v.emplace_back(" + load(t.element, element_read("r", "i"), "where", true) + ");\n";
  } else {
    s += "    if (!v.insert(" + x + ").second) fail(where, \"duplicate element in a " + t.container +
         " at index \" + std::to_string(i));\n";
  }
  return s + "  }\n  return v;\n}\n";
}

// Maps are lists of key/value entries; a repeated key is an error.
std::string decoder::map_functions(const std::string& key, const type_node& t) const {
  std::string s = head(key, t) + "  " + t.cpp + " v;\n";
  if (t.container == "unordered_map") s += "  v.reserve(r.size());\n";
  return s + "  for (::capnp::uint i = 0; i < r.size(); ++i) {\n    auto e = r.struct_at(i);\n    auto key = " +
         load(t.key, field_read("e", t.schema_name, "key"), "where") + ";\n    if (!v.try_emplace(std::move(key), " +
         load(t.value, field_read("e", t.schema_name, "value"), "where") +
         ").second) {\n      fail(where, \"duplicate key in a " + t.container +
         " at index \" + std::to_string(i));\n    }\n  }\n  return v;\n}\n";
}

// The state's schema version stored with the value gives the history
// version of the data; data older than the state's last user migration is
// read by the migration emitter's decoder of that layout and migrated.
std::string decoder::state_decoder(const state& s) const {
  const type_node& t = ctx_.type(s.type);
  const std::string id = codec_context::state_id(s);
  std::string history = "{";
  for (std::size_t i = 0; i < s.history_of_version.size(); ++i) {
    history += (i ? ", " : "") + std::to_string(s.history_of_version[i]) + "u";
  }
  history += "}";
  std::string migrated;
  if (!s.migrations.empty()) {
    unsigned last = s.migrations.back();
    migrated = "    if (dv < " + std::to_string(last) + ") {\n      return ::instadump::schema::migrate(" +
               codec_context::older_state_decoder(id, last - 1) + "(r, dv)).value;\n    }\n";
  }
  std::vector<member> fields = root_fields_of(s);
  return t.cpp + " decode_state_" + id +
         "(::capnp::MessageReader& message, const ::instadump::schema_identity& stored) {\n" +
         "  // History version of the data, from the state's schema version (refuses newer ones).\n" +
         "  const unsigned dv = history_version_of(stored, " + history + ", " + string_literal(s.key) +
         ");\n  try {\n" +
         "    ::instadump::wire::message_reader wire(message);\n    auto r = wire.root();\n" + migrated +
         "    return " + read_member(s.root_name, fields, fields, live_field(fields), "\"\"") + ";\n" +
         "  } catch (const decode_error& e) {\n" +
         "    throw std::runtime_error(std::string(" + string_literal(s.key) +
         ") + (*e.where ? std::string(\" \u2192 \") + e.where : std::string()) + \": \" + e.what());\n" +
         "  } catch (const ::instadump::wire::malformed_data& e) {\n" +
         "    throw std::runtime_error(std::string(" + string_literal(s.key) +
         ") + \": malformed data: \" + e.what());\n  }\n}\n";
}

}  // namespace instadump_codegen

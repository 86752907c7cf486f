// The plan and the names shared by a codec's parts (see codec_context.h).
#include "emit/codec_context.h"

#include <cctype>
#include <stdexcept>

#include "emit/type_functions.h"
#include "migrate/versioned_names.h"
#include "model/type_kinds.h"

namespace instadump_codegen {

codec_context::codec_context(const model& m, const schema_history& history, const schema_output& schema,
                             const std::vector<const state*>& states)
    : m_(m), h_(history), schema_(schema), depth_(m), ns_("::" + schema.cxx_namespace) {
  for (const state* s : states) {
    std::vector<member> fields = root_fields_of(*s);
    plan_member(live_field(fields), fields);
    for (unsigned c : s->migrations) {
      const state* old = state_in(h_.versions.at(c - 2), *s);
      std::vector<member> fields = root_fields_of(*old);
      plan_member(live_field(fields), fields);
    }
  }
}

// A member read from data of any version: its type, and the types of the
// older fields a widening reads from.
void codec_context::plan_member(const member& mem, const std::vector<member>& layout) {
  plan(mem.type);
  if (mem.replaces >= 0 && mem.widened) {
    if (const member* old = by_ordinal(layout, mem.replaces)) plan_member(*old, layout);
  }
}

void codec_context::plan(const std::string& key) {
  if (!seen_.insert(key).second) return;
  const type_node& t = m_.types.at(key);
  for (auto& mem : t.members) {
    if (!mem.obsolete || t.kind != type_kind::record) plan_member(mem, t.members);
  }
  // Records changed by user migrations are also read in their older layouts.
  for (unsigned c : t.migrations) {
    unsigned e = c - 1;
    if (!older_layouts_.emplace(key, e).second || e == 0 || e > h_.versions.size()) continue;
    const type_node& old = h_.versions[e - 1].types.at(key);
    for (auto& mem : old.members) {
      if (!mem.obsolete) plan_member(mem, old.members);
    }
  }
  for_each_nested(t, [&](const std::string& k) { plan(k); });
  if (has_functions(t.kind)) {
    ids_[key] = std::to_string(order_.size());
    order_.push_back(key);
  }
}

std::string codec_context::fn(const std::string& prefix, const std::string& key) const {
  const type_node& t = m_.types.at(key);
  std::string name = t.schema_name.empty() ? "list" : t.schema_name;
  return prefix + name + "_" + ids_.at(key);
}

std::string codec_context::older_decoder(const std::string& key, unsigned e) const {
  return fn("decode_v" + std::to_string(e) + "_", key);
}

std::string codec_context::older_state_decoder(const std::string& id, unsigned e) {
  return "decode_state_v" + std::to_string(e) + "_" + id;
}

std::string codec_context::state_id(const state& s) {
  std::string id;
  for (char c : s.key) id += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return id;
}

std::string codec_context::capnp_cpp(const std::string& key) const {
  const type_node& t = m_.types.at(key);
  switch (t.kind) {
    case type_kind::boolean: return "bool";
    case type_kind::integer: return std::string("::std::") + (t.is_signed ? "int" : "uint") + std::to_string(t.bits) + "_t";
    case type_kind::floating: return t.bits == 32 ? "float" : "double";
    case type_kind::text: return "::capnp::Text";
    case type_kind::data: return "::capnp::Data";
    case type_kind::monostate: return "::capnp::Void";
    case type_kind::duration:
    case type_kind::time_point: return capnp_cpp(t.element);
    case type_kind::sequence:
    case type_kind::array: return "::capnp::List<" + capnp_cpp(t.element) + ">";
    case type_kind::map: return "::capnp::List<" + capnp_struct(t.schema_name) + ">";
    default: return capnp_struct(t.schema_name);
  }
}

const struct_layout& codec_context::layout(const std::string& struct_name) const {
  auto s = schema_.layouts.find(struct_name);
  if (s == schema_.layouts.end()) throw std::logic_error("no layout for struct " + struct_name);
  return s->second;
}

const field_layout& codec_context::layout(const std::string& struct_name, const std::string& field) const {
  const struct_layout& s = layout(struct_name);
  auto f = s.fields.find(field);
  if (f == s.fields.end()) throw std::logic_error("no layout for field " + struct_name + "." + field);
  return f->second;
}

std::string codec_context::access_tag(const std::string& key, const member& mem) const {
  return "access_" + fn("", key) + "_" + mem.cpp_name;
}

std::string codec_context::member_of(const std::string& key, const member& mem, const std::string& object) const {
  if (mem.private_owner.empty()) return object + "." + mem.cpp_name;
  return "(" + object + ".*member_pointer(" + access_tag(key, mem) + "{}))";
}

std::string codec_context::private_member_pointer(const std::string& key, const member& mem) const {
  return "member_pointer(instadump_generated::" + access_tag(key, mem) + "{})";
}

// The helpers every codec uses live in instadump/support/codec_support.h. Only
// member_access is generated: its explicit instantiations (which may name
// private members) must be in a namespace enclosing the template.
std::string codec_context::member_access_template() {
  return R"(
// Reaches a non-public data member of a [[instadump::persist_private]] class:
// explicit instantiations may name private members, and the friend function
// defined here hands out the member pointer (one Tag per member).
template <auto Pointer, class Tag>
struct member_access {
  friend constexpr auto member_pointer(Tag) { return Pointer; }
};
)";
}

std::string codec_context::member_access_tags() const {
  std::string s;
  for (const std::string& k : order_) {
    const type_node& t = m_.types.at(k);
    if (t.kind != type_kind::record) continue;
    for (const member& mem : t.members) {
      if (mem.private_owner.empty()) continue;
      std::string tag = access_tag(k, mem);
      s += "struct " + tag + " {\n  friend constexpr auto member_pointer(" + tag + ");\n};\n" +
           "template struct member_access<&" + mem.private_owner + "::" + mem.cpp_name + ", " + tag + ">;\n";
    }
  }
  return s.empty() ? s : "\n// Non-public members of [[instadump::persist_private]] classes.\n" + s;
}

std::string string_literal(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace instadump_codegen

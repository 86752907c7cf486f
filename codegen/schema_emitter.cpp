// Cap'n Proto schema text for a model (see schema_emitter.h).
#include "schema_emitter.h"

#include <cctype>
#include <algorithm>
#include <cstdio>
#include <set>
#include <vector>

#include <llvm/Support/xxhash.h>

#include "naming.h"

namespace instadump_codegen {
namespace {

std::string hex64(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

class emitter {
 public:
  explicit emitter(const model& m) : m_(m) {}

  // Text of one declaration (struct or enum) for a type key, emitted once.
  std::string declaration(const std::string& key) {
    const type_node& t = m_.types.at(key);
    std::string s;
    switch (t.kind) {
      case type_kind::enumeration: {
        s = "enum " + t.schema_name + " {  # " + t.cpp + "\n";
        std::vector<const enumerator*> es;
        for (auto& e : t.enumerators) es.push_back(&e);
        std::sort(es.begin(), es.end(), [](auto* a, auto* b) { return a->ordinal < b->ordinal; });
        for (const enumerator* e : es) {
          s += "  " + e->schema_name + " @" + std::to_string(e->ordinal) + ";" +
               (e->obsolete ? "  # obsolete: " + e->cpp_name + " was removed" : std::string()) + "\n";
        }
        return s + "}\n";
      }
      case type_kind::record:
      case type_kind::tuple: {
        s = "struct " + t.schema_name + (t.kind == type_kind::record ? " {  # " + t.cpp : std::string(" {")) + "\n";
        return s + fields("  ", t.members) + "}\n";
      }
      case type_kind::variant: {
        s = "struct " + t.schema_name + " {\n  union {\n";
        for (const member& mem : t.members) s += field("    ", mem);
        return s + "  }\n}\n";
      }
      case type_kind::optional:
        return "struct " + t.schema_name + " {\n  union {\n    none @0 :Void;\n" +
               field("    ", synthetic_field("value", t.element, 1)) + "  }\n}\n";
      case type_kind::map:
        return "struct " + t.schema_name + " {\n" +
               field("  ", synthetic_field("key", t.key, 0)) + field("  ", synthetic_field("value", t.value, 1)) + "}\n";
      default:
        return {};
    }
  }

  std::string field(const std::string& indent, const member& mem) {
    std::string type = mem.type.empty() ? "AnyPointer" : schema_type(m_, mem.type);
    std::string s = indent + mem.schema_name + " @" + std::to_string(mem.ordinal) + " :" + type + ";";
    std::string comment;
    if (!mem.type.empty()) {
      const type_node& t = m_.types.at(mem.type);
      if (t.kind == type_kind::duration || t.kind == type_kind::time_point) {
        comment = std::string(t.kind == type_kind::duration ? "duration" : "time since epoch") + " in units of " +
                  t.unit;
      }
    }
    if (mem.obsolete) {
      comment += std::string(comment.empty() ? "" : "; ") + "obsolete: " + mem.cpp_name +
                 (mem.schema_name.rfind("removed", 0) == 0 ? " was removed" : " before its type changed");
    } else if (mem.replaces >= 0) {
      comment += std::string(comment.empty() ? "" : "; ") + "since history version " + std::to_string(mem.since) +
                 ", replacing @" + std::to_string(mem.replaces);
    }
    return s + (comment.empty() ? "" : "  # " + comment) + "\n";
  }

  // Fields in ordinal order, obsolete ones included.
  std::string fields(const std::string& indent, const std::vector<member>& members) {
    std::vector<const member*> ms;
    for (auto& m : members) ms.push_back(&m);
    std::sort(ms.begin(), ms.end(), [](auto* a, auto* b) { return a->ordinal < b->ordinal; });
    std::string s;
    for (const member* m : ms) s += field(indent, *m);
    return s;
  }

  // Keys of the declarations reachable from `key`, depth first, in order.
  void reachable(const std::string& key, std::vector<std::string>& out, std::set<std::string>& seen) {
    if (!seen.insert(key).second) return;
    const type_node& t = m_.types.at(key);
    if (!t.schema_name.empty()) out.push_back(key);
    for (auto& mem : t.members) {
      if (!mem.type.empty()) reachable(mem.type, out, seen);
    }
    if (!t.element.empty() && t.kind != type_kind::data) reachable(t.element, out, seen);
    if (!t.key.empty()) reachable(t.key, out, seen);
    if (!t.value.empty()) reachable(t.value, out, seen);
  }

 private:
  const model& m_;
};

}  // namespace

std::uint64_t stable_hash(const std::string& text) { return llvm::xxh3_64bits(text); }

std::string schema_namespace(const std::string& target) {
  std::string ns;
  for (char c : target) ns += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return "instadump_schema::" + ns;
}

schema_output emit_schema(const model& m, const std::string& target) {
  emitter e(m);
  schema_output out;
  out.cxx_namespace = schema_namespace(target);
  std::uint64_t file_id = stable_hash("instadump-codegen schema file of target " + target) | (1ull << 63);
  out.text = "# Cap'n Proto schema of the instadump states of target `" + target +
             "`.\n# Generated by instadump-codegen from the types and the schema history: do not edit.\n" +
             hex64(file_id).replace(0, 0, "@") + ";\n\nusing Cxx = import \"/capnp/c++.capnp\";\n$Cxx.namespace(\"" +
             out.cxx_namespace + "\");\n";
  std::set<std::string> written;
  for (const state& s : m.states) {
    std::vector<member> root_fields = root_fields_of(s);
    std::string root = "struct " + s.root_name + " {  # state " + s.key + "\n" + e.fields("  ", root_fields) + "}\n";
    std::vector<std::string> keys;
    std::set<std::string> seen;
    for (auto& f : root_fields) e.reachable(f.type, keys, seen);
    std::string canonical = root;
    out.text += "\n" + root;
    for (auto& k : keys) {
      std::string decl = e.declaration(k);
      canonical += decl;
      if (written.insert(k).second) out.text += "\n" + decl;
    }
    std::uint64_t fingerprint = stable_hash(canonical);
    out.fingerprints[s.key] = fingerprint;
    out.state_schemas[s.key] = "# The schema of state " + s.key + ", fingerprint " + hex64(fingerprint) +
                               ", version " + std::to_string(s.version) +
                               " (written by instadump-codegen).\n@" +
                               hex64(stable_hash("instadump-codegen state schema " + s.key) | (1ull << 63)) +
                               ";\n\n" + canonical;
  }
  return out;
}

}  // namespace instadump_codegen

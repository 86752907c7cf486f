// Reading and writing the schema history file (see history.h).
//
// Written by hand so the layout is stable and one member or enumerator sits
// on one line; read with llvm::json. Unknown keys are errors: a history
// written by a newer instadump-codegen must not be half-understood.
#include "migrate/history.h"

#include <cstdio>
#include <optional>

#include <llvm/Support/JSON.h>
#include <llvm/Support/MemoryBuffer.h>

#include "model/type_kinds.h"

namespace instadump_codegen {
namespace {

constexpr int history_format = 1;

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// Accumulates `"key": value` pairs of one object on one line.
class line {
 public:
  line& str(const char* k, const std::string& v, bool always = false) {
    if (always || !v.empty()) add(k, quote(v));
    return *this;
  }
  line& num(const char* k, long long v, long long skip_if = 0) {
    if (v != skip_if) add(k, std::to_string(v));
    return *this;
  }
  line& flag(const char* k, bool v) {
    if (v) add(k, "true");
    return *this;
  }
  line& strings(const char* k, const std::vector<std::string>& v) {
    if (v.empty()) return *this;
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + quote(v[i]);
    add(k, s + "]");
    return *this;
  }
  line& numbers(const char* k, const std::vector<unsigned>& v) {
    if (v.empty()) return *this;
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
    add(k, s + "]");
    return *this;
  }
  line& raw(const char* k, const std::string& v) {
    add(k, v);
    return *this;
  }
  std::string text() const { return "{" + body_ + "}"; }

 private:
  void add(const char* k, const std::string& v) { body_ += (body_.empty() ? "" : ", ") + quote(k) + ": " + v; }
  std::string body_;
};

std::string member_line(const member& m) {
  return line()
      .str("cpp", m.cpp_name, true)
      .str("schema", m.schema_name)
      .num("ordinal", m.ordinal, -1)
      .str("type", m.type)
      .flag("obsolete", m.obsolete)
      .num("since", m.since)
      .num("replaces", m.replaces, -1)
      .flag("widened", m.widened)
      .text();
}

std::string list(const std::vector<std::string>& items, const std::string& indent) {
  if (items.empty()) return "[]";
  std::string s = "[\n";
  for (std::size_t i = 0; i < items.size(); ++i) s += indent + "  " + items[i] + (i + 1 < items.size() ? ",\n" : "\n");
  return s + indent + "]";
}

std::string type_text(const type_node& t, const std::string& indent) {
  line l;
  l.str("cpp", t.cpp, true).str("kind", std::string(kind_name(t.kind)), true).str("schema", t.schema_name);
  l.str("display", t.display).str("qualified", t.qualified).strings("template_args", t.template_args);
  l.num("bits", t.bits).flag("signed", t.is_signed).str("container", t.container).str("element", t.element);
  l.str("key", t.key).str("value", t.value).num("array_size", static_cast<long long>(t.array_size));
  l.str("unit", t.unit).numbers("migrations", t.migrations);
  if (t.kind == type_kind::enumeration) {
    std::vector<std::string> es;
    for (auto& e : t.enumerators) {
      es.push_back(line().str("cpp", e.cpp_name, true).str("schema", e.schema_name).num("ordinal", e.ordinal, -1)
                       .flag("obsolete", e.obsolete).text());
    }
    l.raw("enumerators", list(es, indent + "  "));
  } else if (!t.members.empty() || t.kind == type_kind::record) {
    std::vector<std::string> ms;
    for (auto& m : t.members) ms.push_back(member_line(m));
    l.raw("members", list(ms, indent + "  "));
  }
  return l.text();
}

std::string state_text(const state& s, const std::string& indent) {
  line l;
  l.str("key", s.key, true).str("type", s.type, true).str("root", s.root_name).num("version", s.version);
  l.numbers("history_of_version", s.history_of_version).strings("previous_keys", s.previous_keys);
  l.numbers("migrations", s.migrations);
  if (!s.root_fields.empty()) {
    std::vector<std::string> ms;
    for (auto& m : s.root_fields) ms.push_back(member_line(m));
    l.raw("root_fields", list(ms, indent + "  "));
  }
  return l.text();
}

// --- reading ---------------------------------------------------------------

class reader {
 public:
  explicit reader(std::string path) : path_(std::move(path)) {}
  std::string error;

  bool fail(const std::string& where, const std::string& what) {
    if (error.empty()) error = path_ + ": " + where + ": " + what;
    return false;
  }

  bool allowed(const llvm::json::Object& o, std::initializer_list<const char*> keys, const std::string& where) {
    for (auto& kv : o) {
      bool ok = false;
      for (const char* k : keys) ok = ok || kv.first == k;
      if (!ok) return fail(where, "unknown key \"" + kv.first.str() + "\" (written by a newer instadump-codegen?)");
    }
    return true;
  }

  std::string str(const llvm::json::Object& o, const char* k) {
    auto v = o.getString(k);
    return v ? v->str() : std::string();
  }
  long long num(const llvm::json::Object& o, const char* k, long long dflt = 0) {
    auto v = o.getInteger(k);
    return v ? *v : dflt;
  }
  bool flag(const llvm::json::Object& o, const char* k) { return o.getBoolean(k).value_or(false); }
  std::vector<std::string> strings(const llvm::json::Object& o, const char* k) {
    std::vector<std::string> out;
    if (auto* a = o.getArray(k)) {
      for (auto& v : *a) {
        if (auto s = v.getAsString()) out.push_back(s->str());
      }
    }
    return out;
  }
  std::vector<unsigned> numbers(const llvm::json::Object& o, const char* k) {
    std::vector<unsigned> out;
    if (auto* a = o.getArray(k)) {
      for (auto& v : *a) {
        if (auto n = v.getAsInteger()) out.push_back(static_cast<unsigned>(*n));
      }
    }
    return out;
  }

  bool read_member(const llvm::json::Value& v, member& m, const std::string& where) {
    auto* o = v.getAsObject();
    if (!o) return fail(where, "expected an object");
    if (!allowed(*o, {"cpp", "schema", "ordinal", "type", "obsolete", "since", "replaces", "widened"}, where)) {
      return false;
    }
    m.cpp_name = str(*o, "cpp");
    m.schema_name = str(*o, "schema");
    m.ordinal = static_cast<unsigned>(num(*o, "ordinal"));
    m.type = str(*o, "type");
    m.obsolete = flag(*o, "obsolete");
    m.since = static_cast<unsigned>(num(*o, "since"));
    m.replaces = static_cast<int>(num(*o, "replaces", -1));
    m.widened = flag(*o, "widened");
    if (m.schema_name.empty()) return fail(where, "member without \"schema\" name");
    return true;
  }

  // The members in array `k` of `o`, if it has one.
  bool read_members(const llvm::json::Object& o, const char* k, std::vector<member>& out, const std::string& where) {
    if (auto* a = o.getArray(k)) {
      for (auto& v : *a) {
        member mem;
        if (!read_member(v, mem, where)) return false;
        out.push_back(std::move(mem));
      }
    }
    return true;
  }

  bool read_type(const llvm::json::Value& v, model& m, const std::string& where) {
    auto* o = v.getAsObject();
    if (!o) return fail(where, "expected an object");
    if (!allowed(*o, {"cpp", "kind", "schema", "display", "qualified", "template_args", "bits", "signed",
                      "container", "element", "key", "value", "array_size", "unit", "migrations", "members",
                      "enumerators"},
                 where)) {
      return false;
    }
    type_node t;
    t.cpp = str(*o, "cpp");
    std::string kind = str(*o, "kind");
    std::optional<type_kind> k = kind_named(kind);
    if (!k) return fail(where + " (" + t.cpp + ")", "unknown kind \"" + kind + "\"");
    t.kind = *k;
    t.schema_name = str(*o, "schema");
    t.display = str(*o, "display");
    t.qualified = str(*o, "qualified");
    t.template_args = strings(*o, "template_args");
    t.bits = static_cast<int>(num(*o, "bits"));
    t.is_signed = flag(*o, "signed");
    t.container = str(*o, "container");
    t.element = str(*o, "element");
    t.key = str(*o, "key");
    t.value = str(*o, "value");
    t.array_size = static_cast<std::uint64_t>(num(*o, "array_size"));
    t.unit = str(*o, "unit");
    t.migrations = numbers(*o, "migrations");
    if (!read_members(*o, "members", t.members, where + " (" + t.cpp + ")")) return false;
    if (auto* es = o->getArray("enumerators")) {
      for (auto& ev : *es) {
        auto* eo = ev.getAsObject();
        if (!eo || !allowed(*eo, {"cpp", "schema", "ordinal", "obsolete"}, where + " (" + t.cpp + ")")) {
          return fail(where + " (" + t.cpp + ")", "bad enumerator");
        }
        t.enumerators.push_back(enumerator{str(*eo, "cpp"), str(*eo, "schema"),
                                           static_cast<unsigned>(num(*eo, "ordinal")), flag(*eo, "obsolete")});
      }
    }
    if (t.cpp.empty()) return fail(where, "type without \"cpp\"");
    std::string key = t.cpp;
    m.types.emplace(key, std::move(t));
    return true;
  }

  bool read_state(const llvm::json::Value& v, model& m, const std::string& where) {
    auto* o = v.getAsObject();
    if (!o) return fail(where, "expected an object");
    if (!allowed(*o, {"key", "type", "root", "version", "history_of_version", "previous_keys", "migrations",
                      "root_fields"},
                 where)) {
      return false;
    }
    state s;
    s.key = str(*o, "key");
    s.cpp_expr = "::" + s.key;
    s.type = str(*o, "type");
    s.root_name = str(*o, "root");
    s.version = static_cast<unsigned>(num(*o, "version", 1));
    s.history_of_version = numbers(*o, "history_of_version");
    s.previous_keys = strings(*o, "previous_keys");
    s.migrations = numbers(*o, "migrations");
    if (!read_members(*o, "root_fields", s.root_fields, where + " (" + s.key + ")")) return false;
    if (s.key.empty() || s.type.empty() || s.root_name.empty()) return fail(where, "state without key, type or root");
    if (s.history_of_version.size() != s.version) {
      return fail(where + " (" + s.key + ")", "history_of_version must list one history version per state version");
    }
    m.states.push_back(std::move(s));
    return true;
  }

  bool read(const llvm::json::Value& root, schema_history& out) {
    auto* o = root.getAsObject();
    if (!o) return fail("top level", "expected an object");
    if (!allowed(*o, {"instadump_schema_history", "comment", "versions"}, "top level")) return false;
    auto format = o->getInteger("instadump_schema_history");
    if (!format) return fail("top level", "not an instadump schema history (no \"instadump_schema_history\")");
    if (*format > history_format) {
      return fail("top level", "history format " + std::to_string(*format) + " was written by a newer "
                               "instadump-codegen (this one reads format " + std::to_string(history_format) +
                               "); upgrade Instadump");
    }
    auto* versions = o->getArray("versions");
    if (!versions) return fail("top level", "no \"versions\" array");
    for (auto& vv : *versions) {
      std::string where = "version " + std::to_string(out.versions.size() + 1);
      auto* vo = vv.getAsObject();
      if (!vo) return fail(where, "expected an object");
      if (!allowed(*vo, {"version", "states", "types"}, where)) return false;
      model m;
      m.history_version = static_cast<unsigned>(num(*vo, "version"));
      if (m.history_version != out.versions.size() + 1) {
        return fail(where, "versions must be numbered 1, 2, ... in order; found " + std::to_string(m.history_version));
      }
      if (auto* ts = vo->getArray("types")) {
        for (auto& tv : *ts) {
          if (!read_type(tv, m, where)) return false;
        }
      }
      if (auto* ss = vo->getArray("states")) {
        for (auto& sv : *ss) {
          if (!read_state(sv, m, where)) return false;
        }
      }
      out.versions.push_back(std::move(m));
    }
    return true;
  }

 private:
  std::string path_;
};

}  // namespace

std::string model_text(const model& m) {
  const std::string indent = "      ";
  std::vector<std::string> states, types;
  for (const state& s : m.states) states.push_back(state_text(s, indent));
  for (const auto& [key, t] : m.types) types.push_back(type_text(t, indent));
  return "{\n      \"version\": " + std::to_string(m.history_version) + ",\n      \"states\": " +
         list(states, indent) + ",\n      \"types\": " + list(types, indent) + "\n    }";
}

std::string history_text(const schema_history& h) {
  std::string s = "{\n  \"instadump_schema_history\": " + std::to_string(history_format) +
                  ",\n  \"comment\": \"Written by instadump-codegen. Commit this file: it fixes the Cap'n Proto "
                  "ordinals of your state types and lists the layouts older snapshots may have. See "
                  "'Changing your types' in Instadump's README.\",\n  \"versions\": [";
  for (std::size_t i = 0; i < h.versions.size(); ++i) s += (i ? ",\n    " : "\n    ") + model_text(h.versions[i]);
  return s + (h.versions.empty() ? "]\n}\n" : "\n  ]\n}\n");
}

std::string read_history(const std::string& path, schema_history& out) {
  out.versions.clear();
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer) {
    if (buffer.getError() == std::errc::no_such_file_or_directory) return {};
    return path + ": cannot read: " + buffer.getError().message();
  }
  if ((*buffer)->getBuffer().trim().empty()) return {};
  auto parsed = llvm::json::parse((*buffer)->getBuffer());
  if (!parsed) return path + ": not valid JSON: " + llvm::toString(parsed.takeError());
  reader r(path);
  if (!r.read(*parsed, out)) return r.error;
  return {};
}

}  // namespace instadump_codegen

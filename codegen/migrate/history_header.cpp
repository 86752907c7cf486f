// The history header <target>_schema_history.h (see history_header.h).
#include "migrate/history_header.h"

#include <string_view>
#include <vector>

#include "migrate/versioned_names.h"

namespace instadump_codegen {

namespace {

// The last history version of the epoch of a record or state containing
// version v: its layout is the same from one user migration to the next.
// Returns 0 when v is at or after the last migration (the current type).
unsigned epoch_end(const std::vector<unsigned>& migrations, unsigned v) {
  for (unsigned c : migrations) {
    if (v < c) return c - 1;
  }
  return 0;
}

// A type's spelling for people: std::string for the standard library's
// spelled-out basic_string (the same type), as users write it in migrations.
std::string readable(std::string spelling) {
  for (const char* long_form : {"::std::__cxx11::basic_string<char, ::std::char_traits<char>, ::std::allocator<char>>",
                                "::std::basic_string<char, ::std::char_traits<char>, ::std::allocator<char>>"}) {
    for (std::size_t at; (at = spelling.find(long_form)) != std::string::npos;) {
      spelling.replace(at, std::string_view(long_form).size(), "::std::string");
    }
  }
  return spelling;
}

// "::instadump::schema::v1::shop::Item" as {"instadump::schema::v1::shop", "Item"}.
struct scoped_name {
  std::string scope, name;
};
scoped_name split(const std::string& versioned) {
  std::string full = versioned.substr(2);  // without the leading ::
  std::size_t cut = full.rfind("::");
  return {full.substr(0, cut), full.substr(cut + 2)};
}

// The struct `versioned` with members `body`, in its namespace.
std::string struct_in_scope(const std::string& versioned, const std::string& comment, const std::string& body) {
  scoped_name n = split(versioned);
  return "\nnamespace " + n.scope + " {\n// " + comment + ".\nstruct " + n.name + " {\n" + body +
         "};\n}  // namespace " + n.scope + "\n";
}

// `versioned` as another name of `target`, in its namespace.
std::string alias_in_scope(const std::string& versioned, const std::string& target) {
  scoped_name n = split(versioned);
  return "namespace " + n.scope + " {\nusing " + n.name + " = " + target + ";\n}\n";
}

// Writes the value types of one record or state, and collects the
// declarations of its migrations.
class header_writer {
 public:
  explicit header_writer(const schema_history& h) : h_(h), m_(h.versions.back()) {}

  // A record changed by migrations: one value type per layout a migration
  // starts from; every other version's name is an alias of its layout's type.
  void record_types(const std::string& key, const type_node& t) {
    for (unsigned c : t.migrations) {
      unsigned e = c - 1;
      std::string body;
      for (auto& mem : h_.versions.at(e - 1).types.at(key).members) {
        if (!mem.obsolete) body += "  " + spelling_of(mem.type) + " " + mem.cpp_name + "{};\n";
      }
      types += struct_in_scope(versioned_record_name(t, e),
                               t.cpp + " as of schema history version " + std::to_string(e), body);
    }
    for (unsigned v = 1; v <= m_.history_version; ++v) {
      unsigned e = epoch_end(t.migrations, v);
      if (e == v) continue;
      types += alias_in_scope(versioned_record_name(t, v), e == 0 ? t.cpp : versioned_record_name(t, e));
    }
    for (unsigned c : t.migrations) {
      declare("Converts " + t.cpp + " from its layout of history version " + std::to_string(c - 1) +
                  " to that of version " + std::to_string(c),
              key, {}, c);
    }
  }

  // A state whose own type changed: a wrapper {T value;} per layout, the
  // current one included, and aliases for the other versions.
  void state_types(const state& s) {
    auto wrapper = [&](unsigned v, const std::string& type_key, const std::string& what) {
      types += struct_in_scope(versioned_state_name(s.key, v), "The value of state " + s.key + " " + what,
                               "  " + spelling_of(type_key) + " value{};\n");
    };
    for (unsigned c : s.migrations) {
      std::vector<member> fields = root_fields_of(*state_in(h_.versions.at(c - 2), s));
      wrapper(c - 1, live_field(fields).type, "as of schema history version " + std::to_string(c - 1));
    }
    unsigned last = s.migrations.back();
    wrapper(last, s.type, "since schema history version " + std::to_string(last));
    for (unsigned v = 1; v <= m_.history_version; ++v) {
      unsigned e = epoch_end(s.migrations, v);
      if (e == v || (e == 0 && v == last)) continue;
      types += alias_in_scope(versioned_state_name(s.key, v), versioned_state_name(s.key, e == 0 ? last : e));
    }
    for (unsigned c : s.migrations) {
      declare("Converts the value of state " + s.key + " from its type in history version " + std::to_string(c - 1) +
                  " to that of version " + std::to_string(c),
              {}, s.key, c);
    }
  }

  std::string types;       // the value types and aliases, namespace by namespace
  std::string migrations;  // the migrate declarations, for namespace instadump::schema

 private:
  // Member types are spelled as today's types (nested values arrive converted).
  std::string spelling_of(const std::string& type_key) const {
    auto it = m_.types.find(type_key);
    return readable(it != m_.types.end() ? it->second.cpp : type_key);
  }

  void declare(const std::string& comment, const std::string& record, const std::string& state, unsigned c) {
    migrations += "// " + comment + ".\n" + versioned_name(m_, record, state, c) + " migrate(const " +
                  versioned_name(m_, record, state, c - 1) + "& old);\n";
  }

  const schema_history& h_;
  const model& m_;  // the newest version
};

}  // namespace

std::string emit_history_header(const schema_history& history, const std::string& target) {
  std::string out = "// Generated by instadump-codegen from the schema history of target `" + target +
                    "`: do not edit.\n//\n// The value types of older layouts of records changed by a migration "
                    "(instadump::schema::v<N>::...,\n// where N is a history version) and the migrations the "
                    "history requires. Include\n// this header after your own types, in the file that defines the "
                    "migrations:\n//\n//   #include \"" + target + "_schema_history.h\"\n"
                    "//   instadump::schema::v2::shop::Item instadump::schema::migrate(const "
                    "instadump::schema::v1::shop::Item& old) {...}\n"
                    "//\n// Nested values arrive already converted to their current types.\n#pragma once\n\n"
                    "#include <array>\n#include <chrono>\n#include <cstddef>\n#include <cstdint>\n#include <deque>\n"
                    "#include <map>\n#include <optional>\n#include <set>\n#include <string>\n#include <tuple>\n"
                    "#include <unordered_map>\n#include <unordered_set>\n#include <utility>\n#include <variant>\n"
                    "#include <vector>\n";
  if (history.versions.empty()) return out;
  header_writer w(history);
  for (auto& [key, t] : history.versions.back().types) {
    if (t.kind == type_kind::record && !t.migrations.empty()) w.record_types(key, t);
  }
  for (const state& s : history.versions.back().states) {
    if (!s.migrations.empty()) w.state_types(s);
  }
  out += w.types;
  if (!w.migrations.empty()) {
    out += "\nnamespace instadump::schema {\n\n" + w.migrations + "\n}  // namespace instadump::schema\n";
  }
  return out;
}

}  // namespace instadump_codegen

// Decoders of the layouts before a user migration (see migration_emitter.h).
#include "migrate/migration_emitter.h"

#include <vector>

#include "migrate/versioned_names.h"

namespace instadump_codegen {
namespace {

// The last migration at or before layout `e` (data older than it is in an
// older layout still), or 0.
unsigned migration_before(const std::vector<unsigned>& migrations, unsigned e) {
  unsigned previous = 0;
  for (unsigned c : migrations) {
    if (c <= e) previous = c;
  }
  return previous;
}

}  // namespace

std::string migration_emitter::head(const std::string& key, unsigned e) const {
  return versioned_record_name(ctx_.type(key), e) + " " + ctx_.older_decoder(key, e) +
         "(::instadump::wire::struct_reader r, [[maybe_unused]] const char* where, [[maybe_unused]] unsigned dv)";
}

std::string migration_emitter::declaration(const std::string& key, unsigned e) const { return head(key, e) + ";\n"; }

std::string migration_emitter::definition(const std::string& key, unsigned e) const {
  const type_node& t = ctx_.type(key);
  const type_node& old = ctx_.history().versions.at(e - 1).types.at(key);
  std::string s = "// " + t.cpp + " as of schema history version " + std::to_string(e) + "\n" + head(key, e) + " {\n";
  if (unsigned previous = migration_before(t.migrations, e); previous != 0) {
    s += "  if (dv < " + std::to_string(previous) + ") {\n    return ::instadump::schema::migrate(" +
         ctx_.older_decoder(key, previous - 1) + "(r, where, dv));\n  }\n";
  }
  s += "  " + versioned_record_name(t, e) + " v{};\n";
  for (auto& mem : old.members) {
    if (mem.obsolete) continue;
    s += "  v." + mem.cpp_name + " = " +
         decoder_.read_member(t.schema_name, t.members, old.members, mem,
                              string_literal(t.display + "::" + mem.cpp_name), true) +
         ";\n";
  }
  return s + "  return v;\n}\n";
}

std::string migration_emitter::state_decoders(const state& s) const {
  const std::string id = codec_context::state_id(s);
  std::vector<member> fields = root_fields_of(s);
  std::string out;
  for (unsigned c : s.migrations) {
    unsigned e = c - 1;
    const state* old = state_in(ctx_.history().versions.at(e - 1), s);
    std::vector<member> layout = root_fields_of(*old);
    out += versioned_state_name(s.key, e) + " " + codec_context::older_state_decoder(id, e) +
           "(::instadump::wire::struct_reader r, unsigned dv) {\n";
    if (unsigned previous = migration_before(s.migrations, e); previous != 0) {
      out += "  if (dv < " + std::to_string(previous) + ") return ::instadump::schema::migrate(" +
             codec_context::older_state_decoder(id, previous - 1) + "(r, dv));\n";
    }
    out += "  return " + versioned_state_name(s.key, e) + "{" +
           decoder_.read_member(s.root_name, fields, layout, live_field(layout), "\"\"") + "};\n}\n";
  }
  return out;
}

}  // namespace instadump_codegen

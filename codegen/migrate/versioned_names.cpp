// Names of the value types of older layouts (see versioned_names.h).
#include "migrate/versioned_names.h"

#include <algorithm>

#include "migrate/evolve.h"

namespace instadump_codegen {

std::string versioned_record_name(const type_node& t, unsigned v) {
  std::string q = t.qualified.empty() ? t.display : t.qualified;
  for (auto& a : t.template_args) q += "_" + a;
  return "::instadump::schema::v" + std::to_string(v) + "::" + q;
}

std::string versioned_state_name(const std::string& key, unsigned v) {
  return "::instadump::schema::v" + std::to_string(v) + "::" + key + "_state";
}

std::string versioned_name(const model& m, const std::string& record, const std::string& state, unsigned v) {
  if (record.empty()) return versioned_state_name(state, v);
  return versioned_record_name(m.types.at(record), v);
}

std::string migration_signature(const model& m, const std::string& record, const std::string& state, unsigned v) {
  return versioned_name(m, record, state, v).substr(2) + " instadump::schema::migrate(const " +
         versioned_name(m, record, state, v - 1).substr(2) + "& old)";
}

const state* state_in(const model& version, const state& s) {
  for (const state& o : version.states) {
    if (o.key == s.key || std::find(s.previous_keys.begin(), s.previous_keys.end(), o.key) != s.previous_keys.end()) {
      return &o;
    }
  }
  return nullptr;
}

std::vector<std::string> missing_migrations(const model& m, const std::set<std::string>& defined) {
  std::vector<std::string> missing;
  for (const required_migration& r : all_migrations(m)) {
    std::string from = versioned_name(m, r.record, r.state, r.version - 1).substr(2);
    if (!defined.count(from)) missing.push_back(migration_signature(m, r.record, r.state, r.version));
  }
  return missing;
}

}  // namespace instadump_codegen

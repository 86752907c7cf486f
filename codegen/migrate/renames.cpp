// [[instadump::renamed_from]] checked against the schema history (see renames.h).
#include "migrate/renames.h"

#include <algorithm>

namespace instadump_codegen {
namespace {

// "a, b, c", or `none` for an empty list.
std::string listing(const std::vector<std::string>& names, const std::string& none) {
  if (names.empty()) return none;
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::string attribute(const std::string& name) { return "[[instadump::renamed_from(\"" + name + "\")]]"; }

bool ends_with_part(const std::string& key, const std::string& name) {
  return key.size() > name.size() + 2 && key.ends_with(name) && key.compare(key.size() - name.size() - 2, 2, "::") == 0;
}

constexpr const char* kWhy = "; fix the name or remove the attribute (a rename that names nothing would drop the "
                             "stored values)";

}  // namespace

std::string resolve_state_rename(const state& s, const model& locked, std::vector<std::string>& errors) {
  const std::string& name = s.renamed_from;
  std::vector<std::string> keys;
  for (const state& ls : locked.states) keys.push_back(ls.key);
  auto has = [&](const std::string& k) { return std::find(keys.begin(), keys.end(), k) != keys.end(); };
  if (has(name)) return name;
  std::vector<std::string> looked_for{name};
  // Relative to the state's namespace, innermost first, as C++ looks names up.
  for (std::size_t end = s.key.rfind("::"); end != std::string::npos && end != 0;
       end = s.key.rfind("::", end - 1)) {
    const std::string candidate = s.key.substr(0, end) + "::" + name;
    if (has(candidate)) return candidate;
    looked_for.push_back(candidate);
  }
  std::vector<std::string> suffixed;
  for (const std::string& k : keys) {
    if (ends_with_part(k, name)) suffixed.push_back(k);
  }
  if (suffixed.size() == 1) return suffixed.front();
  const std::string head = "state " + s.key + " (" + s.location + ") is " + attribute(name) + ", but ";
  if (suffixed.size() > 1) {
    errors.push_back(head + "several states of the schema history end in '" + name + "': " + listing(suffixed, "") +
                     "; write the whole key of the one it was");
    return "";
  }
  looked_for.push_back("a key ending in ::" + name);
  std::sort(keys.begin(), keys.end());
  errors.push_back(head + "the schema history has no such state (looked for " + listing(looked_for, "") +
                   "); its states are: " + listing(keys, "(none)") + kWhy);
  return "";
}

void check_member_renames(const type_node& t, const type_node* locked, std::vector<std::string>& errors) {
  auto current = [&](const std::string& name) {
    return std::any_of(t.members.begin(), t.members.end(), [&](const member& m) { return m.cpp_name == name; });
  };
  auto in_locked = [&](const std::string& name, bool obsolete) {
    return locked && std::any_of(locked->members.begin(), locked->members.end(), [&](const member& m) {
             return m.cpp_name == name && m.obsolete == obsolete;
           });
  };
  for (const member& m : t.members) {
    if (m.renamed_from.empty() || m.renamed_from == m.cpp_name || in_locked(m.cpp_name, false)) continue;
    const std::string head = "member " + t.display + "::" + m.cpp_name + " is " + attribute(m.renamed_from) + ", but ";
    if (!locked) {
      errors.push_back(head + t.display + " is not in the schema history (a new type): there is no member to rename "
                       "from" + kWhy);
    } else if (in_locked(m.renamed_from, false)) {
      if (current(m.renamed_from)) {
        errors.push_back(head + "a member named " + m.renamed_from + " still exists in " + t.display);
      }
    } else {
      std::vector<std::string> live;
      for (const member& lm : locked->members) {
        if (!lm.obsolete) live.push_back(lm.cpp_name);
      }
      errors.push_back(head + t.display + " in the schema history has no member " + m.renamed_from +
                       (in_locked(m.renamed_from, true) ? " (it was removed earlier: its values are no longer stored)"
                                                        : "") +
                       "; its members are: " + listing(live, "(none)") + kWhy);
    }
  }
}

}  // namespace instadump_codegen

// Schema evolution against the locked history (see evolve.h).
#include "migrate/evolve.h"

#include <algorithm>
#include <functional>
#include <set>

#include "model/naming.h"
#include "model/type_kinds.h"

namespace instadump_codegen {
namespace {

enum class change { same, widening, changed };

class evolver {
 public:
  evolver(model& current, const schema_history& history, evolution_result& result)
      : c_(current), h_(history), l_(history.versions.back()), r_(result),
        n_(history.versions.back().history_version) {}

  void run() {
    for (auto& [key, t] : c_.types) {
      auto it = l_.types.find(key);
      if (it == l_.types.end() || it->second.kind != t.kind) continue;
      if (t.kind == type_kind::record) evolve_record(t, it->second);
      if (t.kind == type_kind::enumeration) evolve_enum(t, it->second);
    }
    for (state& s : c_.states) evolve_state(s);
    retain_obsolete_types();
    reconcile_names();
    assign_versions();
  }

  bool bumped() const { return bumped_; }

 private:
  // How a value of locked type `lk` reads as current type `ck`.
  change compare(const std::string& ck, const std::string& lk) {
    const type_node& ct = c_.types.at(ck);
    auto it = l_.types.find(lk);
    if (it == l_.types.end()) return change::changed;
    const type_node& lt = it->second;
    if (ct.kind != lt.kind) {
      bool wraps = ct.kind == type_kind::optional || ct.kind == type_kind::sequence;
      return wraps && compare(ct.element, lk) == change::same ? change::widening : change::changed;
    }
    switch (ct.kind) {
      case type_kind::boolean:
      case type_kind::text:
      case type_kind::data:
      case type_kind::monostate: return change::same;
      case type_kind::integer:
        if (ct.bits == lt.bits && ct.is_signed == lt.is_signed) return change::same;
        if (ct.bits > lt.bits && (ct.is_signed == lt.is_signed || ct.is_signed)) return change::widening;
        return change::changed;
      case type_kind::floating:
        return ct.bits == lt.bits ? change::same : ct.bits > lt.bits ? change::widening : change::changed;
      case type_kind::duration:
      case type_kind::time_point:
        return ct.unit == lt.unit && compare(ct.element, lt.element) == change::same ? change::same : change::changed;
      case type_kind::enumeration:
      case type_kind::record: return ck == lk ? change::same : change::changed;
      case type_kind::sequence:
      case type_kind::optional: return compare(ct.element, lt.element) == change::same ? change::same : change::changed;
      case type_kind::array:
        return ct.array_size == lt.array_size && compare(ct.element, lt.element) == change::same ? change::same
                                                                                                : change::changed;
      case type_kind::map:
        return compare(ct.key, lt.key) == change::same && compare(ct.value, lt.value) == change::same
                   ? change::same
                   : change::changed;
      case type_kind::tuple:
      case type_kind::variant: {
        // A variant may gain alternatives at the end (new union members).
        if (ct.members.size() < lt.members.size()) return change::changed;
        if (ct.kind == type_kind::tuple && ct.members.size() != lt.members.size()) return change::changed;
        for (std::size_t i = 0; i < lt.members.size(); ++i) {
          if (compare(ct.members[i].type, lt.members[i].type) != change::same) return change::changed;
        }
        return change::same;
      }
    }
    return change::changed;
  }

  static unsigned next_ordinal(const std::vector<member>& ms) {
    unsigned next = 0;
    for (auto& m : ms) next = std::max(next, m.ordinal + 1);
    return next;
  }

  // The obsolete copy of a locked member that stops being live now.
  member make_obsolete(const member& lm, const std::string& prefix, const std::string& suffix) {
    member o = lm;
    o.obsolete = true;
    o.cpp_name = lm.cpp_name;
    o.schema_name = prefix.empty() ? lm.schema_name + suffix : prefix + capnp_title(lm.schema_name) + suffix;
    return o;
  }

  void evolve_record(type_node& t, const type_node& lt) {
    std::vector<member> out;
    std::set<std::string> matched;
    unsigned next = next_ordinal(lt.members);
    std::set<std::string> names;
    for (const member& lm : lt.members) names.insert(lm.schema_name);
    auto live_locked = [&](const std::string& name) -> const member* {
      for (const member& lm : lt.members) {
        if (!lm.obsolete && lm.cpp_name == name) return &lm;
      }
      return nullptr;
    };
    t.migrations = lt.migrations;
    for (member m : t.members) {
      const member* lm = live_locked(m.cpp_name);
      if (!lm && !m.renamed_from.empty()) lm = live_locked(m.renamed_from);
      if (!lm || matched.count(lm->cpp_name)) {
        m.ordinal = next++;
        m.since = 0;
        m.replaces = -1;
        names.erase(m.schema_name);
        m.schema_name = unique_name(m.schema_name, names);
        r_.changes.push_back("new member " + t.display + "::" + m.cpp_name);
        out.push_back(std::move(m));
        continue;
      }
      matched.insert(lm->cpp_name);
      change ch = compare(m.type, lm->type);
      if (ch == change::same) {
        std::string schema_name = lm->schema_name;
        if (lm->cpp_name != m.cpp_name) {
          r_.changes.push_back("member " + t.display + "::" + lm->cpp_name + " renamed to " + m.cpp_name);
          names.erase(lm->schema_name);
          schema_name = unique_name(lower_camel(m.cpp_name), names);
        }
        m.schema_name = schema_name;
        m.ordinal = lm->ordinal;
        m.since = lm->since;
        m.replaces = lm->replaces;
        m.widened = lm->widened;
        out.push_back(std::move(m));
        continue;
      }
      // The type changed: a new field; the old one stays for older data.
      std::string old_spelling = l_.types.at(lm->type).cpp;
      member old = make_obsolete(*lm, "", "V" + std::to_string(n_));
      names.erase(lm->schema_name);
      old.schema_name = unique_name(old.schema_name, names);
      m.schema_name = unique_name(lm->cpp_name != m.cpp_name ? lower_camel(m.cpp_name) : lm->schema_name, names);
      m.ordinal = next++;
      m.since = n_ + 1;
      m.replaces = static_cast<int>(lm->ordinal);
      m.widened = ch == change::widening;
      bumped_ = true;
      std::string what = "member " + t.display + "::" + m.cpp_name + " changed type from " + old_spelling + " to " +
                         c_.types.at(m.type).cpp;
      if (m.widened) {
        r_.changes.push_back(what + " (a lossless widening: converted automatically)");
      } else {
        r_.changes.push_back(what);
        if (t.migrations.empty() || t.migrations.back() != n_ + 1) {
          t.migrations.push_back(n_ + 1);
        }
      }
      out.push_back(std::move(m));
      out.push_back(std::move(old));
    }
    for (const member& lm : lt.members) {
      if (lm.obsolete) {
        out.push_back(lm);
      } else if (!matched.count(lm.cpp_name)) {
        member o = make_obsolete(lm, "removed", "");
        names.erase(lm.schema_name);
        o.schema_name = unique_name(o.schema_name, names);
        o.since = 0;
        o.replaces = -1;
        o.widened = false;
        r_.changes.push_back("member " + t.display + "::" + lm.cpp_name + " removed (its ordinal stays reserved)");
        out.push_back(std::move(o));
      }
    }
    t.members = std::move(out);
  }

  void evolve_enum(type_node& t, const type_node& lt) {
    std::vector<enumerator> out;
    std::set<std::string> names, matched;
    unsigned next = 0;
    for (const enumerator& le : lt.enumerators) {
      names.insert(le.schema_name);
      next = std::max(next, le.ordinal + 1);
    }
    for (enumerator e : t.enumerators) {
      auto it = std::find_if(lt.enumerators.begin(), lt.enumerators.end(),
                             [&](const enumerator& le) { return !le.obsolete && le.cpp_name == e.cpp_name; });
      if (it != lt.enumerators.end()) {
        e.ordinal = it->ordinal;
        e.schema_name = it->schema_name;
        matched.insert(e.cpp_name);
      } else {
        e.ordinal = next++;
        e.schema_name = unique_name(e.schema_name, names);
        r_.changes.push_back("new enumerator " + t.display + "::" + e.cpp_name);
      }
      out.push_back(std::move(e));
    }
    for (const enumerator& le : lt.enumerators) {
      if (le.obsolete) {
        out.push_back(le);
      } else if (!matched.count(le.cpp_name)) {
        enumerator o = le;
        o.obsolete = true;
        names.erase(le.schema_name);
        o.schema_name = unique_name("removed" + capnp_title(le.schema_name), names);
        r_.changes.push_back("enumerator " + t.display + "::" + le.cpp_name + " removed (its ordinal stays reserved)");
        out.push_back(std::move(o));
      }
    }
    t.enumerators = std::move(out);
  }

  const state* locked_state(const std::string& key) const {
    for (const state& ls : l_.states) {
      if (ls.key == key) return &ls;
    }
    return nullptr;
  }

  void evolve_state(state& s) {
    const state* ls = locked_state(s.key);
    if (!ls && !s.renamed_from.empty()) {
      ls = locked_state(s.renamed_from);
      if (ls && std::any_of(c_.states.begin(), c_.states.end(), [&](const state& o) { return o.key == ls->key; })) {
        r_.errors.push_back("state " + s.key + " is [[instadump::renamed_from(\"" + s.renamed_from +
                            "\")]], but a state named " + s.renamed_from + " still exists");
        return;
      }
    }
    if (!ls) {
      r_.changes.push_back("new state " + s.key);
      s.version = 1;
      s.history_of_version = {};  // assign_versions: the version this build writes
      return;
    }
    matched_states_.insert(ls->key);
    s.root_name = ls->root_name;
    s.version = ls->version;
    s.history_of_version = ls->history_of_version;
    s.previous_keys = ls->previous_keys;
    s.migrations = ls->migrations;
    if (ls->key != s.key) {
      s.previous_keys.push_back(ls->key);
      r_.changes.push_back("state " + ls->key + " renamed to " + s.key);
    }
    std::vector<member> fields = root_fields_of(*ls);
    member* live = nullptr;
    for (member& f : fields) {
      if (!f.obsolete) live = &f;
    }
    change ch = compare(s.type, live->type);
    if (ch == change::same) {
      live->type = s.type;
      s.root_fields = fields.size() == 1 ? std::vector<member>{} : fields;
      return;
    }
    std::string what = "state " + s.key + " changed type from " + l_.types.at(live->type).cpp + " to " +
                       c_.types.at(s.type).cpp;
    member next = synthetic_field("value", s.type, next_ordinal(fields));
    next.since = n_ + 1;
    next.replaces = static_cast<int>(live->ordinal);
    next.widened = ch == change::widening;
    if (!next.widened) {
      s.migrations.push_back(n_ + 1);
    }
    std::set<std::string> names;
    for (auto& f : fields) names.insert(f.schema_name);
    live->obsolete = true;
    names.erase(live->schema_name);
    live->schema_name = unique_name("valueV" + std::to_string(n_), names);
    fields.push_back(next);
    s.root_fields = fields;
    bumped_ = true;
    r_.changes.push_back(what + (next.widened ? " (a lossless widening: converted automatically)" : ""));
  }

  // Copies from the locked model every type an obsolete field still names
  // and this build no longer has.
  void retain(const std::string& key) {
    if (key.empty() || c_.types.count(key)) return;
    const type_node* t = nullptr;
    for (auto v = h_.versions.rbegin(); v != h_.versions.rend() && !t; ++v) {
      auto it = v->types.find(key);
      if (it != v->types.end()) t = &it->second;
    }
    if (!t) return;
    c_.types.emplace(key, *t);
    for (auto& m : t->members) {
      retain(m.type);
    }
    retain(t->element);
    retain(t->key);
    retain(t->value);
  }

  void retain_obsolete_types() {
    std::vector<std::string> wanted;
    for (auto& [key, t] : c_.types) {
      for (auto& m : t.members) {
        if (m.obsolete) wanted.push_back(m.type);
      }
    }
    for (auto& s : c_.states) {
      for (auto& f : s.root_fields) wanted.push_back(f.type);
    }
    for (auto& k : wanted) retain(k);
  }

  // Locked types keep their locked names; new ones avoid every name the
  // history ever used, so no name changes meaning.
  void reconcile_names() {
    std::set<std::string> used;
    std::map<std::string, std::string> reserved;  // name -> key that had it
    for (auto& v : h_.versions) {
      for (auto& [key, t] : v.types) {
        if (!t.schema_name.empty()) reserved.emplace(t.schema_name, key);
      }
      for (auto& s : v.states) reserved.emplace(s.root_name, "state " + s.key);
    }
    std::vector<type_node*> fresh;
    for (auto& [key, t] : c_.types) {
      if (t.schema_name.empty()) continue;
      auto it = l_.types.find(key);
      if (it != l_.types.end() && it->second.kind == t.kind && !it->second.schema_name.empty() &&
          used.insert(it->second.schema_name).second) {
        t.schema_name = it->second.schema_name;
      } else {
        fresh.push_back(&t);
      }
    }
    for (auto& s : c_.states) {
      if (const state* ls = locked_state(s.key); ls || matched_states_.count(s.renamed_from)) {
        used.insert(s.root_name);
      }
    }
    // `name` for `owner`, unless taken now or by another owner in the history.
    auto claim = [&](std::string& name, const std::string& owner) {
      auto r = reserved.find(name);
      if (used.count(name) || (r != reserved.end() && r->second != owner)) {
        const std::string base = name;
        for (int n = 2;; ++n) {
          name = base + std::to_string(n);
          if (!used.count(name) && !reserved.count(name)) break;
        }
      }
      used.insert(name);
    };
    for (type_node* t : fresh) claim(t->schema_name, t->cpp);
    for (auto& s : c_.states) {
      if (!locked_state(s.key) && !matched_states_.count(s.renamed_from)) claim(s.root_name, "state " + s.key);
    }
  }

  // Whether the layout of anything reachable from `key` changed in version v.
  bool changed_in(const std::string& key, unsigned v, std::set<std::string>& seen) {
    if (key.empty() || !seen.insert(key).second) return false;
    const type_node& t = c_.types.at(key);
    for (auto& m : t.members) {
      if (!m.obsolete && m.since == v) return true;
      if (!m.obsolete && changed_in(m.type, v, seen)) return true;
    }
    bool changed = false;
    for_each_nested(t, [&](const std::string& k) { changed = changed || changed_in(k, v, seen); });
    return changed;
  }

  void assign_versions() {
    unsigned v = bumped_ ? n_ + 1 : n_;
    c_.history_version = v;
    for (state& s : c_.states) {
      if (s.history_of_version.empty()) {  // a new state: no older data exists
        s.history_of_version = {v};
        continue;
      }
      std::set<std::string> seen;
      bool root_changed = std::any_of(s.root_fields.begin(), s.root_fields.end(),
                                      [&](const member& f) { return !f.obsolete && f.since == v; });
      if (bumped_ && (root_changed || changed_in(s.type, v, seen)) && s.history_of_version.back() != v) {
        ++s.version;
        s.history_of_version.push_back(v);
      } else {
        s.history_of_version.back() = v;
      }
    }
  }

  model& c_;
  const schema_history& h_;
  const model& l_;
  evolution_result& r_;
  unsigned n_;
  bool bumped_ = false;
  std::set<std::string> matched_states_;
};

}  // namespace

evolution_result evolve(model& current, schema_history& history) {
  evolution_result result;
  if (history.versions.empty()) {
    current.history_version = 1;
    for (state& s : current.states) {
      s.version = 1;
      s.history_of_version = {1};
    }
    history.versions.push_back(current);
    result.kind = evolution::first;
    return result;
  }
  evolver e(current, history, result);
  e.run();
  if (!result.errors.empty()) return result;
  if (e.bumped()) {
    history.versions.push_back(current);
    result.kind = evolution::new_version;
  } else if (model_text(current) == model_text(history.versions.back())) {
    result.kind = evolution::identical;
  } else {
    history.versions.back() = current;
    result.kind = evolution::compatible;
  }
  return result;
}

std::vector<required_migration> all_migrations(const model& m) {
  std::vector<required_migration> out;
  for (auto& [key, t] : m.types) {
    if (t.kind != type_kind::record) continue;
    for (unsigned v : t.migrations) out.push_back(required_migration{key, {}, v});
  }
  for (const state& s : m.states) {
    for (unsigned v : s.migrations) out.push_back(required_migration{{}, s.key, v});
  }
  return out;
}

}  // namespace instadump_codegen

// Wire nesting depth of the model's types (see nesting.h).
#include "model/nesting.h"

#include <algorithm>
#include <set>
#include <vector>


namespace instadump_codegen {
namespace {

bool pointer_kind(type_kind k) { return is_struct_backed(k) || is_list_backed(k); }

}  // namespace

bool nesting::reaches_itself(const std::string& key) const {
  std::set<std::string> seen;
  std::vector<std::string> todo;
  for_each_written(m_, m_.types.at(key), [&](const std::string& k) { todo.push_back(k); });
  while (!todo.empty()) {
    std::string k = std::move(todo.back());
    todo.pop_back();
    if (k == key) return true;
    if (!seen.insert(k).second) continue;
    for_each_written(m_, m_.types.at(k), [&](const std::string& n) { todo.push_back(n); });
  }
  return false;
}

nesting::nesting(const model& m) : m_(m) {
  std::set<std::string> recursive;
  for (const auto& [key, t] : m_.types) {
    if (reaches_itself(key)) recursive.insert(key);
  }
  // What each type reaches (itself included): is any of them recursive,
  // or a list, a Text or a Data?
  for (const auto& [key, t] : m_.types) {
    std::set<std::string> seen{key};
    std::vector<std::string> todo{key};
    bool dynamic = false, lengths = false;
    while (!todo.empty()) {
      std::string k = std::move(todo.back());
      todo.pop_back();
      const type_node& n = m_.types.at(k);
      dynamic = dynamic || recursive.count(k) != 0;
      lengths = lengths || is_list_backed(n.kind) || n.kind == type_kind::text || n.kind == type_kind::data;
      for_each_written(m_, n, [&](const std::string& next) {
        if (seen.insert(next).second) todo.push_back(next);
      });
    }
    dynamic_[key] = dynamic;
    holds_lengths_[key] = lengths;
  }
  for (const auto& [key, t] : m_.types) inner_of(key);
}

// Memoized; parts that are dynamic are skipped, so the walk meets no cycle.
unsigned nesting::inner_of(const std::string& key) {
  if (auto it = inner_.find(key); it != inner_.end()) return it->second;
  const type_node& t = m_.types.at(key);
  auto slot_of = [&](const std::string& k) -> unsigned {
    if (dynamic_.at(k) || !pointer_kind(m_.types.at(k).kind)) return 0;
    return 1 + inner_of(k);
  };
  unsigned levels = 0;
  if (is_struct_backed(t.kind) || (is_list_backed(t.kind) && !t.key.empty())) {
    // A struct's fields; a map's entries are structs of a key and a value.
    for_each_written(m_, t, [&](const std::string& k) { levels = std::max(levels, slot_of(k)); });
  } else if (is_list_backed(t.kind) && m_.types.count(t.element) && !dynamic_.at(t.element)) {
    levels = inline_element(t.element) ? inner_of(t.element) : slot_of(t.element);
  }
  inner_[key] = levels;
  return levels;
}

bool nesting::dynamic(const std::string& key) const { return dynamic_.at(key); }

unsigned nesting::inner(const std::string& key) const { return inner_.at(key); }

unsigned nesting::slot(const std::string& key) const {
  return pointer_kind(m_.types.at(key).kind) ? 1 + inner(key) : 0;
}

bool nesting::inline_element(const std::string& key) const { return is_struct_backed(m_.types.at(key).kind); }

}  // namespace instadump_codegen

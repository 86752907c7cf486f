// How deeply a value of each type nests structs and lists on the wire, so
// that a save never writes what a load refuses (common/limits.h).
//
// A load follows at most limits::nesting struct and list pointers from the
// root of a value (the wire reader's depth; Text and Data do not count). A
// value of type T stored in a pointer slot (a struct field, or an element of
// a list of lists, texts or structs of a map) takes
//
//   slot(T)  = 1 + inner(T) for struct- and list-backed T, 0 otherwise
//   inner(T) = struct-backed: the largest slot(F) of the fields it writes
//              list of structs: inner(element) (elements lie in the list)
//              other list: slot(element); map: max(slot(key), slot(value))
//
// and a state's value takes 1 (its root struct) + slot(T) levels.
//
// A type that is, or holds, a recursive type (a `node` holding
// std::vector<node>) has no such bound: its values are as deep as they are.
// Its encoder measures them as it writes them (emit/encoder.cpp); only its
// other parts count statically, with the bound above (an upper bound: an
// empty list or optional counts as full).
#pragma once

#include <map>
#include <string>

#include "model/model.h"
#include "model/type_kinds.h"

namespace instadump_codegen {

// Calls f(key) for every type of `m` whose values a value of `t` writes:
// its live members, element, key and value.
template <class F>
void for_each_written(const model& m, const type_node& t, F&& f) {
  for (const member& mem : t.members) {
    if (!mem.obsolete && m.types.count(mem.type)) f(mem.type);
  }
  for_each_nested(t, [&](const std::string& k) {
    if (m.types.count(k)) f(k);
  });
}

class nesting {
 public:
  // REQUIRES: `m` is the model the codecs are emitted from (names and
  // obsolete members final), and outlives this object.
  explicit nesting(const model& m);

  // Whether the depth of a value of type `key` is known only from the
  // value: the type is part of a cycle, or holds a type that is.
  bool dynamic(const std::string& key) const;

  // The levels a value of type `key` takes in a pointer slot: exact for
  // types that are not dynamic; for dynamic ones, what their parts that are
  // not dynamic take (the rest is measured).
  unsigned slot(const std::string& key) const;
  // The levels below the value's own pointer (see above), with the same
  // meaning for dynamic types.
  unsigned inner(const std::string& key) const;

  // Whether a value of type `key` holds a list, a Text or a Data: something
  // whose length a save checks against the format's ceilings.
  bool holds_lengths(const std::string& key) const { return holds_lengths_.at(key); }

  // Whether an element of type `key` lies inside its list (a struct in a
  // list of structs) instead of behind a pointer of its own.
  bool inline_element(const std::string& key) const;

 private:
  bool reaches_itself(const std::string& key) const;
  unsigned inner_of(const std::string& key);

  const model& m_;
  std::map<std::string, bool> dynamic_;
  std::map<std::string, bool> holds_lengths_;
  std::map<std::string, unsigned> inner_;
};

}  // namespace instadump_codegen

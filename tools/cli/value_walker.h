// Walks a value decoded with Cap'n Proto's dynamic API and feeds it to a
// value_emitter as it goes. The bytes are untrusted: a value that does not
// match its schema (or is damaged in a way its checksum did not catch) is
// reported in place, through value_emitter::problem, and the walk goes on
// with the next field or element -- it never crashes.
#pragma once

#include "instadump/capnp_compat.h"  // before any Cap'n Proto header

#include <capnp/dynamic.h>

#include <cstdint>
#include <functional>
#include <string>

#include "value_emitter.h"

namespace instadump::cli {

class progress_meter;

class value_walker {
 public:
  // `progress` (may be null) counts the elements of the outermost lists.
  value_walker(value_emitter& out, progress_meter* progress) : out_(out), progress_(progress) {}

  // Emits `value`.
  void walk(const capnp::DynamicValue::Reader& value);
  // Emits field `field` of `parent`, or a problem when it does not decode.
  void walk_field(const capnp::DynamicStruct::Reader& parent, const capnp::StructSchema::Field& field);
  // The same without the field's name: its value only.
  void walk_field_value(const capnp::DynamicStruct::Reader& parent, const capnp::StructSchema::Field& field);
  // Emits element `index` of `list`, or a problem.
  void walk_element(const capnp::DynamicList::Reader& list, unsigned index);

  // How many problems were emitted, and the first one.
  std::uint64_t problems() const { return problems_; }
  const std::string& first_problem() const { return first_problem_; }
  // Emits a problem (also for the callers that walk a value's parts).
  void report(const std::string& what);
  // The same as an element of the list being emitted (where the JSON
  // document has room for a value).
  void report_element(const std::string& what);

  // Lets a caller emit some fields' values itself (a struct state's members
  // stored node by node, whose chunks hold what the value does not). For
  // each field reached from the walk's root through struct fields only,
  // `take` gets the field's path -- its name after `root_path` and the
  // names on the way, joined by '.' -- and returns whether it emitted the
  // value (through this walker); if not, the walker does. An empty `take`:
  // the walker emits every field.
  using field_taker = std::function<bool(const std::string& path, const capnp::DynamicStruct::Reader& parent,
                                         const capnp::StructSchema::Field& field)>;
  void take_fields(std::string root_path, field_taker take);

  // For a collection the caller assembles itself (one stored node by
  // node): begin_outer_list, then walk_element and count_element for each
  // element, then end_outer_list. Lists inside it are then not outermost.
  void begin_outer_list(std::size_t size, bool composite);
  void count_element();
  void end_outer_list();
  // Whether `list`'s elements are structs or lists.
  static bool composite_elements(const capnp::DynamicList::Reader& list);

 private:
  void walk_struct(const capnp::DynamicStruct::Reader& s);
  void walk_list(const capnp::DynamicList::Reader& list);

  value_emitter& out_;
  progress_meter* progress_;
  int list_depth_ = 0;
  field_taker take_;
  std::string path_;  // of the field being walked, while take_ is set
  std::uint64_t problems_ = 0;
  std::string first_problem_;
};

}  // namespace instadump::cli

// delta_overlay: the deltas saved since a collection's tree (format 5,
// docs/FORMAT.md "Deltas"), read without the program, for the walk that
// shows the collection: which keys of the tree they erase or set anew, and
// the entries they add, so the walk can show the collection as the program
// loads it.
//
// Keys are matched by value. Keys of scalar types (integers, floats, text,
// data, booleans, enums) are ordered as the library orders them
// (std::less), so added entries are shown in their place; entries added
// with keys of other types (structs, lists) are shown after the tree's.
#pragma once

#include "instadump/capnp_compat.h"  // before any Cap'n Proto header

#include <capnp/dynamic.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "storage/snapshot_store.h"
#include "field_path.h"
#include "storage/value_message.h"
#include "stored_schemas.h"

namespace instadump::cli {

// A key of a collection's entry, comparable: scalar keys as the library
// orders them, other keys by their text (equality only means anything).
struct entry_key {
  int kind = 0;  // capnp::DynamicValue::Type
  std::int64_t i = 0;
  std::uint64_t u = 0;
  double f = 0;
  std::string bytes;  // text, data, or another key's text

  bool operator<(const entry_key& o) const;
  bool ordered() const;  // a scalar key: the library's order
};

// The key of element `index` of a collection's list: an entry's `key`
// field when the elements are map entries, else the element itself.
entry_key key_of(const capnp::DynamicList::Reader& list, unsigned index);

class delta_overlay {
 public:
  // What the deltas say of one key: erased, or set to element `index` of
  // `list`.
  struct change {
    bool erased = false;
    capnp::DynamicList::Reader list;
    unsigned index = 0;
    bool seen = false;  // the tree has the key (set by the walk)
  };

  // Reads the deltas up to link `head` (oldest applied first, newer ones
  // win), each part's entries at `entries` in its message. Throws
  // instadump::error naming the chunk for a chunk that is not what its link
  // says, and `problem` (as text) for a part whose schema the tool cannot
  // read.
  delta_overlay(const storage::chunk_source& chunks, schema_library& schemas, std::uint64_t head,
                field_path entries);

  std::map<entry_key, change>& changes() { return changes_; }

 private:
  void read_part(std::uint64_t id, std::uint64_t type);

  const storage::chunk_source& chunks_;
  schema_library& schemas_;
  field_path entries_;
  std::deque<std::vector<capnp::word>> payloads_;  // copies of the parts' payloads
  std::vector<std::unique_ptr<storage::value_message>> messages_;  // the lists' messages
  std::map<entry_key, change> changes_;
};

}  // namespace instadump::cli

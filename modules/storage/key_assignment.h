// Key ids of a new snapshot's values. The writer gives them (lmdb_writer.cpp)
// and a journaled save predicts them (journal_planner.cpp), both by the rules
// here: a value keeps the id it brings when that id names its key (so no name
// is hashed), else it takes its name's id, else its name gets the next free
// id, in put order. Names to remove that have no id are in no snapshot.
//
// Internal to instadump_storage.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/errors.h"
#include "storage/name_map.h"

namespace instadump::storage {

class key_assignment {
 public:
  // Over a store's names (by id, "" for unused ids), their ids and the next
  // free id. REQUIRES: names and ids outlive this object.
  key_assignment(const std::vector<std::string>& names, const name_map<std::uint64_t>& ids, std::uint64_t next_key_id)
      : names_(names), ids_(ids), next_key_id_(next_key_id) {}

  // The id of `key` for a value that brings `hint` (0: none), or 0 when the
  // name has no id yet. (Inline: a save calls it once per value.)
  std::uint64_t find(std::string_view key, std::uint64_t hint = 0) const {
    // A value that brings its key id costs one string compare, no hashing.
    if (hint != 0 && hint < names_.size() && names_[hint] == key) return hint;
    if (auto it = ids_.find(key); it != ids_.end()) return it->second;
    if (auto it = added_ids_.find(key); it != added_ids_.end()) return it->second;
    return 0;
  }
  // Gives `key` the next free id and returns it. REQUIRES: find(key) == 0;
  // the characters of `key` stay valid as long as this object.
  std::uint64_t add(std::string_view key);

  // The ids of the names in `remove` that have one: sorted, each once.
  std::vector<std::uint64_t> removed(const std::vector<std::string>& remove) const;

  std::uint64_t next_key_id() const noexcept { return next_key_id_; }
  // The ids add() gave, with their names, in order.
  const std::vector<std::pair<std::uint64_t, std::string_view>>& added() const noexcept { return added_; }

 private:
  const std::vector<std::string>& names_;
  const name_map<std::uint64_t>& ids_;
  std::uint64_t next_key_id_;
  std::unordered_map<std::string_view, std::uint64_t> added_ids_;
  std::vector<std::pair<std::uint64_t, std::string_view>> added_;
};

// Throws save_failed naming the key when a key id repeats among `sorted`
// (in ascending key id order) or is also in `removed` (sorted): keys must be
// unique. id_of(x) is the key id of element x, name_of(x) its key.
template <class Sorted, class IdOf, class NameOf>
void refuse_repeated_keys(const Sorted& sorted, IdOf id_of, const std::vector<std::uint64_t>& removed,
                          NameOf name_of) {
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const std::uint64_t id = id_of(sorted[i]);
    const bool repeated = i > 0 && id == id_of(sorted[i - 1]);
    if (repeated || std::binary_search(removed.begin(), removed.end(), id)) {
      throw save_failed("instadump: the key \"" + std::string(name_of(sorted[i])) + "\" appears " +
                        (repeated ? "twice in one snapshot" : "both as a value and as a key to remove") +
                        "; keys must be unique");
    }
  }
}

}  // namespace instadump::storage

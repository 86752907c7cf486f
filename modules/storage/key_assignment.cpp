// Giving a new snapshot's values their key ids (see key_assignment.h).
#include "storage/key_assignment.h"

namespace instadump::storage {

std::uint64_t key_assignment::add(std::string_view key) {
  const std::uint64_t id = next_key_id_++;
  added_ids_.emplace(key, id);
  added_.emplace_back(id, key);
  return id;
}

std::vector<std::uint64_t> key_assignment::removed(const std::vector<std::string>& remove) const {
  std::vector<std::uint64_t> ids;
  for (const std::string& key : remove) {
    if (std::uint64_t id = find(key)) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

}  // namespace instadump::storage

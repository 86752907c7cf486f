// The keys a store's saves hand to the async sender, copied once per key
// for the life of the replication: a save hands over views into this table
// instead of copying its keys, which cost a cold cache miss per state
// (~30 us of a save of 1,000 states).
//
// Keys are found by the local store's key id (storage::entry_info::key_id),
// which names one key for the life of the store. Written by the saving
// thread only (saves are serialized); the views it returns stay valid, and
// their characters unchanged, as long as the table, so the sender may read
// them without a lock.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace instadump::replication {

class key_table {
 public:
  // A view of `key`, whose key id in the store is `id`, owned by the table.
  // Copies `key` only the first time `id` is seen; id 0 (a key without an
  // id) is copied every time.
  std::string_view intern(std::uint64_t id, std::string_view key) {
    if (id != 0 && id < by_id_.size() && by_id_[id].data() != nullptr) return by_id_[id];
    const std::string_view owned = keys_.emplace_back(key);
    if (id != 0 && id < kMaxDenseId) {
      if (id >= by_id_.size()) by_id_.resize(id + 1);
      by_id_[id] = owned;
    }
    return owned;
  }

 private:
  // Ids are handed out 1, 2, ... per store: a vector indexed by them. One
  // past this (a store of millions of keys) is copied every time instead.
  static constexpr std::uint64_t kMaxDenseId = 1u << 22;
  std::vector<std::string_view> by_id_;  // empty views: not seen yet
  std::deque<std::string> keys_;         // never moves an element once added
};

}  // namespace instadump::replication

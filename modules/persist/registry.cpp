// The state registry (registry.cppm): states registering and unregistering
// with the session, which loads a state registered after setup() at once and
// keeps the stored value of one that goes as an unclaimed value.
module;
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/errors.h"
#include "common/thread_safety.h"
module instadump;
import :session_impl;

namespace instadump::detail {

void session::add(state_entry* entry) {
  {
    lock_guard op(op_mu_);
    lock_guard lock(registry_mu_);
    for (state_entry* e : entries_) {
      if (e->key() == entry->key()) {
        throw error("instadump: two states are registered under the key '" + entry->key() +
                    "'; keys must be unique (they are the refs' fully qualified names)");
      }
    }
    entries_.reserve(entries_.size() + 1);
    tracked_.emplace_back(entry);
    entries_.push_back(entry);  // (cannot throw: reserved)
    // Its keys are claimed now.
    unclaimed_.erase(entry->key());
    for (const std::string& k : entry->previous_keys()) {
      if (auto it = unclaimed_.find(k); it != unclaimed_.end()) {
        pending_remove_.insert(it->first);  // moves to the new key with the next save
        unclaimed_.erase(it);
      }
    }
  }
  if (open()) load_late(entry);
}

void session::remove(state_entry* entry) noexcept {
  lock_guard op(op_mu_);
  lock_guard lock(registry_mu_);
  std::erase(entries_, entry);
  auto it = std::find_if(tracked_.begin(), tracked_.end(), [&](const tracked_state& t) { return t.entry == entry; });
  if (it == tracked_.end()) return;
  const saved_slot s = it->saved;
  tracked_.erase(it);
  if (!s.valid || !s.under_own_key || !store_) return;
  // Its stored value is an orphan now, carried like any unclaimed one --
  // unless another registered state claims the key as a previous one.
  bool claimed = false;
  for (const state_entry* e : entries_) {
    const auto& previous = e->previous_keys();
    claimed = claimed || std::find(previous.begin(), previous.end(), entry->key()) != previous.end();
  }
  if (!claimed && !dropped_.count(entry->key())) {
    try {
      unclaimed_[entry->key()] =
          entry_info{entry->key(), s.schema, s.blob_id, s.size_bytes, s.checksum, s.offset, s.framed, s.key_id};
    } catch (...) {  // out of memory: the orphan is not carried (it stays in the older snapshots)
    }
  }
}

std::vector<state_entry*> session::registered() {
  lock_guard lock(registry_mu_);
  return entries_;
}

void register_state(state_entry* entry) { session::get().add(entry); }
void unregister_state(state_entry* entry) noexcept { session::get().remove(entry); }

}  // namespace instadump::detail

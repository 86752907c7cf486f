// The state registry (registry.cppm): states registering and unregistering
// with the session, which loads a state registered after setup() at once and
// keeps the stored value of one that goes as an unclaimed value.
module;
#include <algorithm>
#include <cstdint>
#include <utility>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/errors.h"
#include "common/thread_safety.h"
#include "storage/chunked_members_codec.h"
#include "storage/snapshot_store.h"
module instadump;
import :session_impl;

namespace instadump::detail {

chunked_save state_entry::encode_chunked(const version_base&, const chunk_basis&, std::uint64_t, chunk_sink&) const {
  throw error("instadump: state '" + key_ + "' is not a collection saved node by node");
}

version_base* state_entry::decode_chunked(const chunk_payloads::descriptor&, const storage::chunk_source&,
                                          std::uint64_t, chunk_loaded*) const {
  throw load_failed("instadump: state '" + key_ + "' cannot load a value stored node by node: its type is not a "
                    "pmap, pset or pvector (a snapshot of such a state loads only into a state of the same kind)");
}

version_base* state_entry::decode_chunked_members(storage::chunked_members_value& stored, const schema_identity&,
                                                  const storage::chunk_source&, std::uint64_t,
                                                  chunk_loaded*) const {
  throw load_failed("instadump: state '" + key_ + "' cannot load a value whose member '" +
                    stored.members().front().path + "' is stored node by node: this build's type of the state " +
                    "stores no member so (a pmap, pset or pvector member of a struct state)");
}

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
    tracked_.reserve(tracked_.size() + 1);
    count_commits_of(entry);  // (when autosave counts commits; the last step that may throw)
    tracked_.emplace_back(entry);
    entries_.push_back(entry);
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
  if (commit_threshold_ > 0) {
    try {
      entry->set_commit_listener(nullptr);  // its ref may live on
    } catch (...) {  // out of memory: the ref's commits go on counting, which only makes a save come early
    }
  }
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
          entry_info{entry->key(), s.schema, s.blob_id, s.size_bytes, s.checksum, s.offset, s.framed, s.key_id,
                     s.chunk_roots};
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

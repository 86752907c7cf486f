// Loading: a stored snapshot into the registered refs, all or nothing -- at
// setup(), by reload_all(), and for a state registered after setup().
//
// Every value is decoded first (straight from the store's mapped pages) into
// a new version; only if all succeed are they installed, as blind writes in
// one transaction (validators still apply). Each state's saved slot then
// names the stored value, so that the next save does not write it again.
module;
#include "instadump/capnp_compat.h"
#include <capnp/message.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/errors.h"
#include "common/thread_safety.h"
#include "storage/manifest_codec.h"
#include "storage/snapshot_store.h"
#include "storage/value_message.h"
module instadump;
import :session_impl;

namespace instadump::detail {

void session::load_at_setup() {
  // Ids only: a damaged manifest must not stop us from trying the others.
  std::vector<std::uint64_t> all = store_->snapshot_ids();  // newest first
  if (all.empty()) {
    if (options_.load_snapshot) {
      throw load_failed("instadump::setup: \"" + store_->directory().string() + "\" holds no snapshot " +
                        std::to_string(*options_.load_snapshot) + " (it holds none)");
    }
    return;
  }
  std::size_t first = 0;
  if (options_.load_snapshot) {
    while (first < all.size() && all[first] != *options_.load_snapshot) ++first;
    if (first == all.size()) {
      std::string ids;
      for (std::uint64_t id : all) ids += (ids.empty() ? "" : ", ") + std::to_string(id);
      throw load_failed("instadump::setup: \"" + store_->directory().string() + "\" holds no snapshot " +
                        std::to_string(*options_.load_snapshot) + "; it holds " + ids);
    }
  }
  for (std::size_t i = first; i < all.size(); ++i) {
    try {
      std::vector<entry_info> entries;
      auto values = decode_snapshot(all[i], tracked_, false, &entries);
      install(values, all[i]);
      set_base(all[i], i == 0, entries);
      return;
    } catch (const storage_error& e) {
      if (!options_.fall_back_to_older_snapshots || i + 1 == all.size()) throw;
      if (options_.on_skipped_snapshot) {
        options_.on_skipped_snapshot(all[i], e);
      } else {
        std::fprintf(stderr, "instadump: skipping snapshot %llu: %s\n",
                     static_cast<unsigned long long>(all[i]), e.what());
      }
    }
  }
}

std::vector<decoded_value> session::decode_snapshot(std::uint64_t id, std::span<tracked_state> states,
                                                    bool require_all, std::vector<entry_info>* not_own) {
  // A renamed state also claims the values stored under its previous keys;
  // its own key wins, then the newest previous key.
  struct claim {
    tracked_state* state;
    std::size_t rank;  // 0: own key; n: previous key n from the newest
  };
  std::unordered_map<std::string_view, claim> by_key;
  by_key.reserve(states.size());
  for (tracked_state& t : states) by_key.emplace(t.entry->key(), claim{&t, 0});
  for (tracked_state& t : states) {  // after every own key: a registered key is never someone's alias
    const auto& previous = t.entry->previous_keys();
    for (std::size_t i = 0; i < previous.size(); ++i) by_key.emplace(previous[i], claim{&t, previous.size() - i});
  }
  std::vector<decoded_value> out;
  std::unordered_map<tracked_state*, std::pair<std::size_t, std::size_t>> best;  // state -> (rank, index in out)
  auto release_all = [&] {
    for (decoded_value& d : out) {
      if (d.value) d.value->release();
    }
    out.clear();
  };
  storage::snapshot_store& store = *store_;
  try {
    store.read_snapshot(id, [&](const entry_info& info, kj::ArrayPtr<const capnp::word> words) {
      auto it = by_key.find(info.key);
      if (not_own && (it == by_key.end() || it->second.rank != 0)) not_own->push_back(info);
      if (it == by_key.end()) return;  // unclaimed: carried forward by the next save
      tracked_state* t = it->second.state;
      auto [b, first] = best.try_emplace(t, it->second.rank, out.size());
      if (!first && b->second.first <= it->second.rank) return;  // a better-ranked key holds it
      version_base* v;
      try {
        storage::value_message message(words, info.framed, storage::reader_options_for(words.size()));
        v = t->entry->decode(message.reader(), info.schema);
      } catch (const std::exception& ex) {
        throw load_failed("instadump: cannot restore ref '" + info.key + "' from snapshot " + std::to_string(id) +
                          " in \"" + store.directory().string() + "\": its value does not decode (" + ex.what() +
                          "); nothing was changed");
      } catch (const kj::Exception& ex) {
        throw load_failed("instadump: cannot restore ref '" + info.key + "' from snapshot " + std::to_string(id) +
                          ": its value does not decode (" + std::string(ex.getDescription().cStr()) +
                          "); nothing was changed");
      }
      if (!first) {
        decoded_value& d = out[b->second.second];
        d.value->release();
        d = {t, v, info};
        b->second.first = it->second.rank;
        return;
      }
      out.push_back({t, v, info});
    });
  } catch (...) {
    release_all();
    throw;
  }
  if (require_all && out.size() != states.size()) {
    std::set<const tracked_state*> found;
    for (const decoded_value& d : out) found.insert(d.state);
    std::string missing;
    for (const tracked_state& t : states) {
      if (!found.count(&t)) missing += (missing.empty() ? "'" : ", '") + t.entry->key() + "'";
    }
    release_all();
    throw load_failed("instadump: cannot restore snapshot " + std::to_string(id) + ": ref(s) " + missing +
                      " were never saved in it; nothing was changed");
  }
  return out;
}

void session::install(std::vector<decoded_value>& values, std::uint64_t id) {
  if (values.empty()) return;
  try {
    dosync([&] {
      transaction& tx = require_transaction("install");
      for (decoded_value& d : values) {
        d.value->hold();  // the transaction's hold; ours stays for a retry
        tx.install(d.state->entry->core(), d.value);
      }
    });
  } catch (const validation_failed& e) {
    for (decoded_value& d : values) d.value->release();
    throw load_failed("instadump: cannot restore snapshot " + std::to_string(id) + ": " + e.what() +
                      "; nothing was changed");
  } catch (...) {
    for (decoded_value& d : values) d.value->release();
    throw;
  }
  for (decoded_value& d : values) {
    d.state->saved = saved_slot::of(d.value->stamp(), d.stored, d.stored.key == d.state->entry->key());
    d.value->release();
  }
}

void session::set_base(std::uint64_t id, bool newest, std::vector<entry_info>& not_own) {
  std::unordered_set<std::string_view> own, previous;
  if (!not_own.empty()) {  // (the usual case: every value has its ref)
    for (const tracked_state& t : tracked_) {
      own.insert(t.entry->key());  // (one registered since decoding claims its value now)
      for (const std::string& k : t.entry->previous_keys()) previous.insert(k);
    }
  }
  std::map<std::string, entry_info, std::less<>> unclaimed;
  std::set<std::string, std::less<>> remove;
  for (entry_info& info : not_own) {
    if (own.count(info.key)) continue;
    if (previous.count(info.key) || dropped_.count(info.key)) {
      remove.insert(info.key);  // claimed by a renamed state (or dropped): not carried
      continue;
    }
    std::string key = info.key;
    unclaimed.emplace(std::move(key), std::move(info));
  }
  unclaimed_ = std::move(unclaimed);
  pending_remove_ = std::move(remove);
  base_id_ = id;
  base_is_newest_ = newest;
}

void session::reload(std::optional<std::uint64_t> id) {
  lock_guard lock(op_mu_);
  storage::snapshot_store& store = store_or_throw("reload_all");
  // (The ids alone: listing the newest snapshot's values would read the
  // records once more than decoding it does.)
  const std::vector<std::uint64_t> ids = store.snapshot_ids();
  if (!id) {
    if (ids.empty()) {
      throw load_failed("instadump::reload_all: \"" + store.directory().string() +
                        "\" holds no snapshot yet: call save_all() first");
    }
    id = ids.front();
  }
  std::vector<entry_info> entries;
  auto values = decode_snapshot(*id, tracked_, true, &entries);
  install(values, *id);
  set_base(*id, !ids.empty() && ids.front() == *id, entries);
}

void session::load_late(state_entry* entry) {
  lock_guard lock(op_mu_);
  if (!store_) return;
  try {
    if (base_id_ == 0) return;
    for (tracked_state& t : tracked_) {
      if (t.entry != entry) continue;
      auto values = decode_snapshot(base_id_, std::span(&t, 1), false);
      install(values, base_id_);
      return;
    }
  } catch (const std::exception& e) {
    if (options_.on_late_load_error) {
      options_.on_late_load_error(entry->key(), e);
    } else {
      std::fprintf(stderr, "instadump: ref '%s' registered after setup() keeps its default: %s\n",
                   entry->key().c_str(), e.what());
    }
  }
}

}  // namespace instadump::detail

namespace instadump {

void reload_all() {
  detail::refuse_inside_transaction("reload_all");
  detail::session::get().reload(std::nullopt);
}

void reload_all(std::uint64_t snapshot_id) {
  detail::refuse_inside_transaction("reload_all");
  detail::session::get().reload(snapshot_id);
}

}  // namespace instadump

// Loading: a stored snapshot into the registered refs, all or nothing -- at
// setup(), by reload_all(), and for a state registered after setup().
//
// Every value is decoded first (straight from the store's mapped pages) into
// a new version; only if all succeed are they installed, as blind writes in
// one transaction (validators still apply). Each state's saved slot then
// names the stored value, so that the next save does not write it again.
// setup() and reload_all() load the same way, and may fall back to older
// snapshots alike; only reload_all() resets the refs a snapshot does not hold
// to their defaults (at setup they hold them already).
module;
#include "instadump/capnp_compat.h"
#include <capnp/message.h>

#include <algorithm>
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
#include "replication/replica_follower.h"
#include "storage/chunked_members_codec.h"
#include "storage/error_advice.h"
#include "storage/manifest_codec.h"
#include "storage/snapshot_store.h"
#include "storage/value_message.h"
module instadump;
import :session_impl;

namespace instadump::detail {

namespace {

// Where snapshot `id` is in `ids`; throws load_failed naming what there is
// when it is not there. `verb` names the caller.
std::size_t index_of(std::uint64_t id, std::span<const std::uint64_t> ids, const char* verb,
                     const std::filesystem::path& dir) {
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == id) return i;
  }
  std::string held;
  for (std::uint64_t i : ids) held += (held.empty() ? "" : ", ") + std::to_string(i);
  throw load_failed(std::string("instadump::") + verb + ": \"" + dir.string() + "\" holds no snapshot " +
                    std::to_string(id) + "; it holds " + (held.empty() ? "none" : held) + " (" +
                    storage::advice::stored_snapshots + ")");
}

// A new version (one hold) of the value `info`, whose bytes are `words`: a
// value stored node by node (it has chunk roots) is built from its chunks,
// any other decoded by the state's codec.
version_base* decode_value(const state_entry& e, const entry_info& info, kj::ArrayPtr<const capnp::word> words,
                           const storage::chunk_source& chunks, std::uint64_t epoch, chunk_loaded& loaded) {
  if (info.chunk_roots.empty()) {
    storage::value_message message(words, info.framed, storage::reader_options_for(words.size()));
    return e.decode(message.reader(), info.schema);
  }
  if (storage::holds_chunked_members(words)) {
    storage::chunked_members_value stored(words, "value '" + info.key + "'");
    if (info.chunk_roots != stored.roots()) {
      throw corrupt_data("value '" + info.key + "' refers to other chunks than the chunk roots stored with it");
    }
    return e.decode_chunked_members(stored, info.schema, chunks, epoch, &loaded);
  }
  const chunk_payloads::descriptor d = chunk_payloads::read_descriptor(words, "value '" + info.key + "'");
  if (info.chunk_roots != chunk_payloads::roots_of(d)) {
    throw corrupt_data("value '" + info.key + "' refers to chunks " + std::to_string(d.root) + " and " +
                       std::to_string(d.tail) + ", which are not the chunk roots stored with it");
  }
  return e.decode_chunked(d, chunks, epoch, &loaded);
}

}  // namespace

void session::load_at_setup() {
  load_listed(options_.load_snapshot, options_.fall_back_to_older_snapshots, options_.on_skipped_snapshot, false,
              "setup");
}

std::uint64_t session::load_listed(std::optional<std::uint64_t> id, bool fall_back,
                                   const skipped_snapshot_callback& on_skipped, bool defaults, const char* verb) {
  storage::snapshot_store& store = *store_;
  for (int attempt = 1;; ++attempt) {
    // Ids only: a damaged record must not stop us from trying the others.
    // (Listing the newest snapshot's values would also read the records
    // once more than decoding it does.)
    const std::vector<std::uint64_t> ids = store.snapshot_ids();  // newest first
    const std::size_t first = id ? index_of(*id, ids, verb, store.directory()) : 0;
    if (ids.empty()) return 0;
    try {
      const std::uint64_t loaded = load_first_restorable(ids, first, fall_back, on_skipped, defaults);
      if (follower_) follower_->loaded(loaded);
      return loaded;
    } catch (const load_failed&) {
      // A read-only session lists and reads in two steps, and the writer
      // (or a reader's follower, writing its cache) may prune the newest it
      // listed in between (it saved `keep` more): then it lists again. A
      // snapshot still there failed for real.
      if (!(store.read_only() || follower_) || id || attempt >= kListingAttempts) throw;
      const std::vector<std::uint64_t> now = store.snapshot_ids();
      if (std::find(now.begin(), now.end(), ids[first]) != now.end()) throw;
    }
  }
}

std::uint64_t session::load_first_restorable(std::span<const std::uint64_t> ids, std::size_t first, bool fall_back,
                                             const skipped_snapshot_callback& on_skipped, bool defaults) {
  for (std::size_t i = first;; ++i) {
    try {
      std::vector<entry_info> entries;
      auto values = decode_snapshot(ids[i], tracked_, defaults, &entries);
      install(values, ids[i]);
      set_base(ids[i], i == 0, entries);
      return ids[i];
    } catch (const storage_error& e) {
      if (!fall_back || i + 1 == ids.size()) throw;
      if (on_skipped) {
        on_skipped(ids[i], e);
      } else {
        std::fprintf(stderr, "instadump: skipping snapshot %llu: %s\n", static_cast<unsigned long long>(ids[i]),
                     e.what());
      }
    }
  }
}

std::vector<decoded_value> session::decode_snapshot(std::uint64_t id, std::span<tracked_state> states,
                                                    bool defaults, std::vector<entry_info>* not_own) {
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
    for (decoded_value& d : out) d.release();
    out.clear();
  };
  storage::snapshot_store& store = *store_;
  for (tracked_state& t : states) {  // (the tags of the nodes each load builds from chunks)
    if (t.entry->chunked()) chunk_epoch_of(t);
  }
  try {
    store.read_snapshot(id, [&](const entry_info& info, kj::ArrayPtr<const capnp::word> words,
                                const storage::chunk_source& chunks) {
      auto it = by_key.find(info.key);
      if (not_own && (it == by_key.end() || it->second.rank != 0)) not_own->push_back(info);
      if (it == by_key.end()) return;  // unclaimed: carried forward by the next save
      tracked_state* t = it->second.state;
      auto [b, first] = best.try_emplace(t, it->second.rank, out.size());
      if (!first && b->second.first <= it->second.rank) return;  // a better-ranked key holds it
      version_base* v;
      chunk_loaded loaded;
      try {
        v = decode_value(*t->entry, info, words, chunks, t->chunk_epoch, loaded);
      } catch (const corrupt_data& ex) {
        throw corrupt_data("instadump: cannot restore ref '" + info.key + "' from snapshot " + std::to_string(id) +
                           " in \"" + store.directory().string() + "\": " + ex.what() + "; nothing was changed");
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
        d.release();
        d = {t, v, info, false, loaded};
        b->second.first = it->second.rank;
        return;
      }
      out.push_back({t, v, info, false, loaded});
    });
  } catch (...) {
    release_all();
    throw;
  }
  if (defaults && out.size() != states.size()) {  // states added after the snapshot was written
    try {
      out.reserve(states.size());
      for (tracked_state& t : states) {
        if (best.count(&t)) continue;
        if (version_base* v = t.entry->copy_default()) out.push_back({&t, v, {}, true, {}});
      }
    } catch (...) {
      release_all();
      throw;
    }
  }
  return out;
}

std::uint64_t session::chunk_epoch_of(tracked_state& t) {
  if (t.chunk_epoch_setup != chunk_epoch_) {
    // (Wraps after about a million states set up in one process; a tag of
    // an epoch before the wrap would need a node to survive them all.)
    const std::uint64_t owners = t.entry->chunk_owners();
    if (next_chunk_epoch_ + owners - 1 > chunk_tags::max_epoch) next_chunk_epoch_ = 1;
    t.chunk_epoch = next_chunk_epoch_;
    t.chunk_epoch_setup = chunk_epoch_;
    next_chunk_epoch_ += owners;
  }
  return t.chunk_epoch;
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
    for (decoded_value& d : values) d.release();
    throw load_failed("instadump: cannot restore snapshot " + std::to_string(id) + ": " + e.what() +
                      "; nothing was changed");
  } catch (...) {
    for (decoded_value& d : values) d.release();
    throw;
  }
  for (decoded_value& d : values) {
    // (A default is stored nowhere: the next save writes it.)
    d.state->saved = d.is_default ? saved_slot{}
                                  : saved_slot::of(d.value->stamp(), d.stored, d.stored.key == d.state->entry->key());
    // (The nodes of a value built from chunks carry their tags: the next
    // save refers to those chunks, which the base snapshot holds.)
    tracked_state& t = *d.state;
    if (d.is_default || !t.entry->chunked() || d.stored.chunk_roots.empty()) {
      t.forget_chunks();
    } else {
      t.chunk_base.hold(d.value);
      t.chunk_tree.hold(d.value);  // (its tagged nodes are the stored tree's: chunked_load)
      t.chunk_stored = d.chunks.history;
      t.member_stored = std::move(d.chunks.member_histories);
    }
    d.release();
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

std::uint64_t session::reload(std::optional<std::uint64_t> id, const reload_options& options) {
  lock_guard lock(op_mu_);
  storage::snapshot_store& store = store_or_throw("reload_all");
  // A reader of a replicated store first brings its cache up to
  // PostgreSQL's newest (throwing replication_error, with nothing changed,
  // when it cannot).
  if (follower_ && !id) follower_->catch_up();
  const std::uint64_t loaded =
      load_listed(id, options.fall_back_to_older_snapshots, options.on_skipped_snapshot, true, "reload_all");
  if (loaded == 0) {
    throw load_failed("instadump::reload_all: \"" + store.directory().string() + "\" holds no snapshot yet: " +
                      (store.read_only() || follower_ ? "the writer has not saved one" : "call save_all() first"));
  }
  return loaded;
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

std::uint64_t reload_all() { return reload_all(reload_options{}); }

std::uint64_t reload_all(std::uint64_t snapshot_id) { return reload_all(snapshot_id, reload_options{}); }

std::uint64_t reload_all(const reload_options& options) {
  detail::refuse_inside_transaction("reload_all");
  return detail::session::get().reload(std::nullopt, options);
}

std::uint64_t reload_all(std::uint64_t snapshot_id, const reload_options& options) {
  detail::refuse_inside_transaction("reload_all");
  return detail::session::get().reload(snapshot_id, options);
}

}  // namespace instadump

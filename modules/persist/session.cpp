// Implementation of the state registry and of setup / save_all / reload_all
// (registry.cppm, session.cppm).
//
// Locking: op_mu_ serializes the verbs (setup, save, reload, shutdown, late
// loads); registry_mu_ guards the list of registered states and is only ever
// taken after op_mu_ or alone, never the other way round.
module;
#include "instadump/capnp_compat.h"
#include <capnp/message.h>
#include <capnp/serialize.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <unordered_map>
#include <unordered_set>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "common/errors.h"
#include "persist/value_encoding.h"
#include "storage/manifest_codec.h"
#include "storage/snapshot_store.h"
#include "storage/value_message.h"
module instadump;

namespace instadump::detail {
namespace {

// The slot for a value stored as `e`, of version `stamp`.
saved_slot slot_of(std::uint64_t stamp, const entry_info& e, bool under_own_key) {
  return saved_slot{true, under_own_key, e.framed, stamp, e.schema, e.blob_id, e.offset, e.size_bytes,
                    e.checksum, e.key_id};
}

// A reference to the stored value `e`, to store under its own key.
storage::kept_value kept_of(const entry_info& e) {
  return storage::kept_value{e.key, e.schema, e.blob_id, e.offset, e.size_bytes, e.checksum, e.framed, e.key_id};
}

// A reference to the stored value of `s`, to store under `key` (which must
// outlive the save).
storage::kept_value kept_of(const saved_slot& s, std::string_view key) {
  return storage::kept_value{key, s.schema, s.blob_id, s.offset, s.size_bytes, s.checksum, s.framed,
                             s.under_own_key ? s.key_id : 0};
}

// The words of `v` as the codec of `e` writes them itself (encode_words),
// kept by `encoder`; empty when it does not. The first time for each state
// they are checked against what its encode builds: a codec whose two differ
// is used through encode only from then on.
kj::ArrayPtr<const capnp::word> direct_words(encoding::value_encoder& encoder, state_entry& e, const version_base& v) {
  const kj::ArrayPtr<const capnp::word> words =
      encoder.encode_words([&](std::span<capnp::word> out) { return e.encode_words(v, out); }, max_encoded_words);
  if (e.encode_words_check == state_entry::words_check::unchecked) {
    capnp::MallocMessageBuilder message(2 * max_encoded_words);
    e.encode(v, message);
    const auto segments = message.getSegmentsForOutput();
    const bool agree = words.size() != 0 && segments.size() == 1 && segments[0].size() == words.size() &&
                       std::memcmp(segments[0].begin(), words.begin(), words.size() * sizeof(capnp::word)) == 0;
    e.encode_words_check = agree ? state_entry::words_check::agree : state_entry::words_check::not_used;
    if (!agree) return {};
  }
  return words;
}

entry_info info_of(const saved_slot& s, const std::string& key) {
  return entry_info{key, s.schema, s.blob_id, s.size_bytes, s.checksum, s.offset, s.framed, s.key_id};
}

class session {
 public:
  static session& get() {
    static session instance;
    return instance;
  }
  ~session() { stop_autosave(false); }

  void add(state_entry* entry);
  void remove(state_entry* entry) noexcept;

  void setup(const std::filesystem::path& dir, const setup_options& options);
  save_result save(const save_options& options);
  void reload(std::optional<std::uint64_t> id);
  std::vector<snapshot_info> list();
  std::vector<std::string> unclaimed();
  std::optional<std::string> schema_text(std::uint64_t fingerprint);
  bool drop(std::string_view key);
  void shutdown(bool final_save);
  void check_decodes(std::string_view key, std::span<const std::byte> bytes, const schema_identity& stored,
                     bool framed);
  bool open() {
    std::lock_guard<std::mutex> lock(op_mu_);
    return store_ != nullptr;
  }

 private:
  struct decoded {
    state_entry* entry;
    version_base* value;  // one hold, ours
    entry_info stored;    // where it came from
  };

  std::vector<state_entry*> registered() {
    std::lock_guard<std::mutex> lock(registry_mu_);
    return entries_;
  }
  storage::snapshot_store& store_or_throw(const char* verb) {
    if (!store_) {
      throw error(std::string("instadump::") + verb +
                  "() called before instadump::setup(dir): tell Instadump where the snapshots live first");
    }
    return *store_;
  }
  save_result save_locked(bool durable);
  // Decodes the values of `entries` found in snapshot `id`; missing keys are
  // an error when `require_all`. `not_own` (if given) receives the
  // snapshot's values that no ref in `entries` claims under its own key:
  // unclaimed ones and those under a renamed state's previous key.
  std::vector<decoded> decode_snapshot(std::uint64_t id, const std::vector<state_entry*>& entries,
                                       bool require_all, std::vector<entry_info>* not_own = nullptr);
  // Installs `values` in one transaction and remembers what they came from.
  void install(std::vector<decoded>& values, std::uint64_t id);
  // Makes snapshot `id` the base: what later saves carry unclaimed values
  // from. `not_own`: as decode_snapshot gave it.
  void set_base(std::uint64_t id, bool newest, std::vector<entry_info>& not_own);
  
  void load_late(state_entry* entry);
  void load_at_setup();
  void start_autosave();
  void stop_autosave(bool final_save);
  void autosave_loop();
  void report_autosave_failure(const std::exception& e);

  std::mutex op_mu_;
  std::mutex registry_mu_;
  std::vector<state_entry*> entries_;

  // Guarded by op_mu_.
  std::unique_ptr<storage::snapshot_store> store_;
  setup_options options_;
  // (Where each state's value is stored is in its entry: state_entry::saved.)
  std::set<std::string, std::less<>> dropped_;
  // Keys of the base snapshot the next save leaves out: dropped unclaimed
  // values, and values under a key a renamed state claims as a previous one.
  std::set<std::string, std::less<>> pending_remove_;
  // The base is the newest snapshot in the store: a save can then say only
  // what changed (snapshot_store::write_snapshot(base, delta)).
  bool base_is_newest_ = false;
  // Values of the snapshot the refs were last loaded from or saved to that
  // no registered ref claims (by key or previous key), minus dropped ones:
  // carried into every save. Kept up to date as refs (un)register.
  std::map<std::string, entry_info, std::less<>> unclaimed_;
  std::uint64_t base_id_ = 0;  // that snapshot's id; 0 for none
  // Schema fingerprints known to be stored in this directory.
  std::unordered_set<std::uint64_t> schemas_stored_;
  bool atexit_registered_ = false;

  // Autosave.
  std::thread autosave_thread_;
  std::mutex autosave_mu_;
  std::condition_variable autosave_cv_;
  bool autosave_stop_ = false;
  std::atomic<std::uint64_t> commits_since_save_{0};
};

void session::add(state_entry* entry) {
  {
    std::lock_guard<std::mutex> lock(registry_mu_);
    for (state_entry* e : entries_) {
      if (e->key() == entry->key()) {
        throw error("instadump: two states are registered under the key '" + entry->key() +
                    "'; keys must be unique (they are the refs' fully qualified names)");
      }
    }
    entries_.push_back(entry);
  }
  {
    std::lock_guard<std::mutex> op(op_mu_);  // its keys are claimed now
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
  std::lock_guard<std::mutex> op(op_mu_);  // saved_ is keyed by entry address: forget it
  std::lock_guard<std::mutex> lock(registry_mu_);
  std::erase(entries_, entry);
  const saved_slot& s = entry->saved;
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
      unclaimed_[entry->key()] = info_of(s, entry->key());
    } catch (...) {  // out of memory: the orphan is not carried (it stays in the older snapshots)
    }
  }
}

void session::setup(const std::filesystem::path& dir, const setup_options& options) {
  std::unique_lock<std::mutex> lock(op_mu_);
  if (store_) {
    throw error("instadump::setup(\"" + dir.string() + "\"): already set up with \"" +
                store_->directory().string() + "\"; call instadump::shutdown() first");
  }
  if (options.keep_generations == 0) {
    throw error("instadump::setup: keep_generations must be at least 1");
  }
  storage::store_options so;
  so.keep_generations = options.keep_generations;
  auto store = storage::snapshot_store::open(dir, so);
  store_ = std::move(store);
  options_ = options;
  for (state_entry* e : registered()) e->saved = {};
  dropped_.clear();
  pending_remove_.clear();
  unclaimed_.clear();
  base_id_ = 0;
  base_is_newest_ = false;
  schemas_stored_.clear();
  try {
    load_at_setup();
  } catch (...) {
    store_.reset();
    throw;
  }
  if (!atexit_registered_) {
    atexit_registered_ = true;
    std::atexit([] { session::get().shutdown(true); });
  }
  lock.unlock();
  start_autosave();
}

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
      auto values = decode_snapshot(all[i], registered(), false, &entries);
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

std::vector<session::decoded> session::decode_snapshot(std::uint64_t id, const std::vector<state_entry*>& entries,
                                                       bool require_all, std::vector<entry_info>* not_own) {
  // A renamed state also claims the values stored under its previous keys;
  // its own key wins, then the newest previous key.
  struct claim {
    state_entry* entry;
    std::size_t rank;  // 0: own key; n: previous key n from the newest
  };
  std::unordered_map<std::string_view, claim> by_key;
  by_key.reserve(entries.size());
  for (state_entry* e : entries) by_key.emplace(e->key(), claim{e, 0});
  for (state_entry* e : entries) {  // after every own key: a registered key is never someone's alias
    const auto& previous = e->previous_keys();
    for (std::size_t i = 0; i < previous.size(); ++i) by_key.emplace(previous[i], claim{e, previous.size() - i});
  }
  std::vector<decoded> out;
  std::unordered_map<state_entry*, std::pair<std::size_t, std::size_t>> best;  // entry -> (rank, index in out)
  auto release_all = [&] {
    for (decoded& d : out) {
      if (d.value) d.value->release();
    }
    out.clear();
  };
  try {
    store_->read_snapshot(id, [&](const entry_info& info, kj::ArrayPtr<const capnp::word> words) {
      auto it = by_key.find(info.key);
      if (not_own && (it == by_key.end() || it->second.rank != 0)) not_own->push_back(info);
      if (it == by_key.end()) return;  // unclaimed: carried forward by the next save
      state_entry* e = it->second.entry;
      auto [b, first] = best.try_emplace(e, it->second.rank, out.size());
      if (!first && b->second.first <= it->second.rank) return;  // a better-ranked key holds it
      version_base* v;
      try {
        storage::value_message message(words, info.framed, storage::reader_options_for(words.size()));
        v = e->decode(message.reader(), info.schema);
      } catch (const std::exception& ex) {
        throw load_failed("instadump: cannot restore ref '" + info.key + "' from snapshot " + std::to_string(id) +
                          " in \"" + store_->directory().string() + "\": its value does not decode (" +
                          ex.what() + "); nothing was changed");
      } catch (const kj::Exception& ex) {
        throw load_failed("instadump: cannot restore ref '" + info.key + "' from snapshot " + std::to_string(id) +
                          ": its value does not decode (" + std::string(ex.getDescription().cStr()) +
                          "); nothing was changed");
      }
      if (!first) {
        decoded& d = out[b->second.second];
        d.value->release();
        d = {e, v, info};
        b->second.first = it->second.rank;
        return;
      }
      out.push_back({e, v, info});
    });
  } catch (...) {
    release_all();
    throw;
  }
  if (require_all && out.size() != entries.size()) {
    std::set<const state_entry*> found;
    for (const decoded& d : out) found.insert(d.entry);
    std::string missing;
    for (state_entry* e : entries) {
      if (!found.count(e)) missing += (missing.empty() ? "'" : ", '") + e->key() + "'";
    }
    release_all();
    throw load_failed("instadump: cannot restore snapshot " + std::to_string(id) + ": ref(s) " + missing +
                      " were never saved in it; nothing was changed");
  }
  return out;
}

void session::install(std::vector<decoded>& values, std::uint64_t id) {
  if (values.empty()) return;
  try {
    dosync([&] {
      transaction& tx = require_transaction("install");
      for (decoded& d : values) {
        d.value->hold();  // the transaction's hold; ours stays for a retry
        tx.install(d.entry->core(), d.value);
      }
    });
  } catch (const validation_failed& e) {
    for (decoded& d : values) d.value->release();
    throw load_failed("instadump: cannot restore snapshot " + std::to_string(id) + ": " + e.what() +
                      "; nothing was changed");
  } catch (...) {
    for (decoded& d : values) d.value->release();
    throw;
  }
  for (decoded& d : values) {
    d.entry->saved = slot_of(d.value->stamp(), d.stored, d.stored.key == d.entry->key());
    d.value->release();
  }
}

void session::set_base(std::uint64_t id, bool newest, std::vector<entry_info>& not_own) {
  std::unordered_set<std::string_view> own, previous;
  if (!not_own.empty()) {  // (the usual case: every value has its ref)
    for (state_entry* e : registered()) {
      own.insert(e->key());  // (one registered since decoding claims its value now)
      for (const std::string& k : e->previous_keys()) previous.insert(k);
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

save_result session::save(const save_options& options) {
  std::lock_guard<std::mutex> lock(op_mu_);
  store_or_throw("save_all");
  return save_locked(options.durable.value_or(options_.durable));
}

save_result session::save_locked(bool durable) {
  auto started = std::chrono::steady_clock::now();
  std::vector<state_entry*> entries = registered();
  // Commits before this point are covered by this save; later ones count
  // towards the next autosave.
  std::uint64_t commits_covered = commits_since_save_.load(std::memory_order_relaxed);

  // One read point for every ref: a read-only transaction never retries and
  // never blocks writers. Hold the versions that changed since they were
  // saved, so they outlive it; of the others only the stamp is needed.
  // (The reads are not logged: this transaction never calls retry().)
  std::vector<version_base*> versions(entries.size(), nullptr);
  std::vector<std::uint64_t> stamps(entries.size(), 0);
  struct release_guard {
    std::vector<version_base*>& v;
    ~release_guard() {
      for (version_base*& x : v) {
        if (x) x->release();
        x = nullptr;
      }
    }
  } guard{versions};
  dosync([&] {
    const std::uint64_t rp = require_transaction("save_all").current_read_point();
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (versions[i]) versions[i]->release();
      versions[i] = nullptr;
      const ref_core& r = entries[i]->core();
      stamps[i] = r.stamp_at(rp);
      const saved_slot& s = entries[i]->saved;
      if (s.valid && s.stamp == stamps[i] && s.schema == entries[i]->schema()) continue;
      versions[i] = r.version_at(rp);
      versions[i]->hold();
    }
  });

  save_result result;
  // Building on the newest snapshot, the store needs to hear only what
  // changed; otherwise (nothing saved yet, or the base is an older snapshot
  // reloaded) every value, unclaimed ones included.
  const bool delta = base_is_newest_ && base_id_ != 0;
  storage::snapshot_delta changes;
  changes.entry_keys = false;  // ours are entries[put_entry[p]]->key()
  std::vector<std::size_t> put_entry;  // index in `entries` of each put value (unclaimed ones: none)
  changes.put.reserve(entries.size() + (delta ? 0 : unclaimed_.size()));
  put_entry.reserve(entries.size());
  encoding::value_encoder encoder;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    state_entry* e = entries[i];
    const saved_slot& s = e->saved;
    if (!versions[i]) {  // unchanged since saved or loaded
      if (!(delta && s.under_own_key)) {
        changes.put.emplace_back(kept_of(s, e->key()));
        put_entry.push_back(i);
      }
      continue;
    }
    // (Built in place: a save of many small values should not move each.)
    auto& value =
        std::get<storage::new_value>(changes.put.emplace_back(std::in_place_type<storage::new_value>));
    value.key = e->key();
    value.schema = e->schema();
    value.key_id = s.valid && s.under_own_key ? s.key_id : 0;
    // Large values go straight into the store's pages, in room sized from
    // their last encoding (the last save's, or a measuring one now); small
    // ones are copied there from the encoder.
    std::size_t large_bytes = s.valid && s.size_bytes >= encoding::kInPlaceBytes ? s.size_bytes : 0;
    if (large_bytes == 0) {
      const version_base& v = *versions[i];
      kj::ArrayPtr<const capnp::word> segment;
      if (e->encode_words_check != state_entry::words_check::not_used) {
        segment = direct_words(encoder, *e, v);
        if (segment.size() != 0) ++result.refs_written_as_words;
      }
      if (segment.size() == 0) {
        const auto encoded =
            encoder.encode([&](capnp::MessageBuilder& m) { e->encode(v, m); }, s.valid ? s.size_bytes : 0, e->key());
        large_bytes = encoded.large_bytes;
        segment = encoded.segment;
      }
      if (large_bytes == 0) {
        value.size_bytes = segment.size() * sizeof(capnp::word);
        value.bytes = std::as_bytes(std::span(segment.begin(), segment.size()));
      }
    }
    if (large_bytes != 0) {
      value.size_bytes = encoding::room_for(large_bytes);
      value.fill_in_place = [e, v = versions[i]](std::span<std::byte> room) -> std::size_t {
        return encoding::encode_in_place([&](capnp::MessageBuilder& m) { e->encode(*v, m); }, room, e->key());
      };
    }
    put_entry.push_back(i);
    ++result.refs_written;
  }
  // Unclaimed values stay as they are: in the base already when building on
  // it, carried explicitly otherwise. (A value under a renamed state's
  // previous key has moved to its new key: it is not in unclaimed_.)
  result.unclaimed = unclaimed_.size();
  if (delta) {
    changes.remove.assign(pending_remove_.begin(), pending_remove_.end());
  } else {
    for (const auto& [key, info] : unclaimed_) changes.put.emplace_back(kept_of(info));
  }

  // Store each schema once per directory, so that data stays readable
  // without the program.
  // (Only for values written now: an unchanged one had its schema stored
  // when it was written.)
  std::vector<storage::schema_record> schemas;
  for (std::size_t i : put_entry) {
    const state_entry* e = entries[i];
    std::uint64_t fp = e->schema().fingerprint;
    if (e->schema_source().empty() || schemas_stored_.count(fp)) continue;
    if (store_->get_schema(fp)) {
      schemas_stored_.insert(fp);
      continue;
    }
    auto bytes = std::as_bytes(std::span(e->schema_source().data(), e->schema_source().size()));
    schemas.push_back(storage::schema_record{fp, std::vector<std::byte>(bytes.begin(), bytes.end())});
    schemas_stored_.insert(fp);
  }
  storage::snapshot_info info;
  try {
    info = store_->write_snapshot(delta ? base_id_ : 0, std::move(changes), durable, schemas);
  } catch (...) {
    for (const auto& r : schemas) schemas_stored_.erase(r.fingerprint);
    throw;
  }
  base_id_ = info.id;  // unclaimed_ stays: the new snapshot carries exactly those
  base_is_newest_ = true;
  pending_remove_.clear();
  commits_since_save_.fetch_sub(commits_covered, std::memory_order_relaxed);

  // info.entries are those of the put values, in order.
  for (std::size_t p = 0; p < put_entry.size(); ++p) {
    const std::size_t i = put_entry[p];
    if (versions[i]) result.bytes_written += info.entries[p].size_bytes;  // written anew
    entries[i]->saved = slot_of(stamps[i], info.entries[p], true);
  }
  result.snapshot_id = info.id;
  result.refs = entries.size();
  result.total_bytes = info.total_bytes;
  result.duration = std::chrono::steady_clock::now() - started;
  return result;
}

void session::reload(std::optional<std::uint64_t> id) {
  std::lock_guard<std::mutex> lock(op_mu_);
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
  auto values = decode_snapshot(*id, registered(), true, &entries);
  install(values, *id);
  set_base(*id, !ids.empty() && ids.front() == *id, entries);
}

void session::check_decodes(std::string_view key, std::span<const std::byte> bytes, const schema_identity& stored,
                            bool framed) {
  state_entry* entry = nullptr;
  for (state_entry* e : registered()) {
    const auto& previous = e->previous_keys();
    if (e->key() == key || std::find(previous.begin(), previous.end(), key) != previous.end()) entry = e;
  }
  if (!entry) {
    throw error("instadump::check_value_decodes: no state is registered under the key '" + std::string(key) + "'");
  }
  // Stored values are whole words; a trailing partial word is not part of any.
  storage::aligned_words words(bytes.first(bytes.size() - bytes.size() % sizeof(capnp::word)));
  auto fail = [&](const std::string& why) {
    return load_failed("instadump: the value of ref '" + std::string(key) + "' does not decode (" + why + ")");
  };
  version_base* v = nullptr;
  try {
    storage::value_message message(words.words(), framed, storage::reader_options_for(words.words().size()));
    v = entry->decode(message.reader(), stored);
  } catch (const std::exception& ex) {
    throw fail(ex.what());
  } catch (const kj::Exception& ex) {
    throw fail(ex.getDescription().cStr());
  }
  v->release();
}

void session::load_late(state_entry* entry) {
  std::lock_guard<std::mutex> lock(op_mu_);
  if (!store_) return;
  try {
    if (base_id_ == 0) return;
    auto values = decode_snapshot(base_id_, {entry}, false);
    install(values, base_id_);
  } catch (const std::exception& e) {
    if (options_.on_late_load_error) {
      options_.on_late_load_error(entry->key(), e);
    } else {
      std::fprintf(stderr, "instadump: ref '%s' registered after setup() keeps its default: %s\n",
                   entry->key().c_str(), e.what());
    }
  }
}

std::vector<snapshot_info> session::list() {
  std::lock_guard<std::mutex> lock(op_mu_);
  return store_or_throw("snapshots").list_snapshots();
}

std::vector<std::string> session::unclaimed() {
  std::lock_guard<std::mutex> lock(op_mu_);
  store_or_throw("unclaimed_keys");
  std::vector<std::string> out;
  for (const auto& [key, info] : unclaimed_) out.push_back(key);
  return out;
}

std::optional<std::string> session::schema_text(std::uint64_t fingerprint) {
  std::lock_guard<std::mutex> lock(op_mu_);
  auto bytes = store_or_throw("stored_schema").get_schema(fingerprint);
  if (!bytes) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(bytes->data()), bytes->size());
}

bool session::drop(std::string_view key) {
  std::lock_guard<std::mutex> lock(op_mu_);
  store_or_throw("drop_unclaimed");
  auto it = unclaimed_.find(key);
  if (it == unclaimed_.end()) return false;
  dropped_.insert(it->first);
  pending_remove_.insert(it->first);
  unclaimed_.erase(it);
  return true;
}

void session::shutdown(bool final_save) {
  stop_autosave(final_save);
  std::lock_guard<std::mutex> lock(op_mu_);
  store_.reset();
  for (state_entry* e : registered()) e->saved = {};
  dropped_.clear();
  pending_remove_.clear();
  unclaimed_.clear();
  base_id_ = 0;
  base_is_newest_ = false;
}

// --- Autosave ------------------------------------------------------------------

void session::start_autosave() {
  const autosave_options& a = options_.autosave;
  if (a.every.count() <= 0 && a.after_commits == 0) return;
  autosave_stop_ = false;
  commits_since_save_ = 0;
  if (a.after_commits > 0) {
    std::uint64_t threshold = a.after_commits;
    for (state_entry* e : registered()) {
      e->set_commit_listener([this, threshold] {
        if (commits_since_save_.fetch_add(1, std::memory_order_relaxed) + 1 == threshold) {
          std::lock_guard<std::mutex> lock(autosave_mu_);
          autosave_cv_.notify_one();
        }
      });
    }
  }
  autosave_thread_ = std::thread([this] { autosave_loop(); });
}

void session::autosave_loop() {
  const autosave_options a = options_.autosave;
  auto next = std::chrono::steady_clock::now() + a.every;
  std::unique_lock<std::mutex> lock(autosave_mu_);
  for (;;) {
    auto due = [&] {
      return autosave_stop_ ||
             (a.after_commits > 0 && commits_since_save_.load(std::memory_order_relaxed) >= a.after_commits) ||
             (a.every.count() > 0 && std::chrono::steady_clock::now() >= next);
    };
    if (a.every.count() > 0) {
      autosave_cv_.wait_until(lock, next, due);
    } else {
      autosave_cv_.wait(lock, due);
    }
    if (autosave_stop_) return;
    lock.unlock();
    try {
      std::lock_guard<std::mutex> op(op_mu_);
      if (store_) save_locked(options_.durable);
    } catch (const std::exception& e) {
      report_autosave_failure(e);
    }
    next = std::chrono::steady_clock::now() + a.every;
    lock.lock();
  }
}

void session::report_autosave_failure(const std::exception& e) {
  if (options_.autosave.on_error) {
    try {
      options_.autosave.on_error(e);
      return;
    } catch (...) {
    }
  }
  std::fprintf(stderr, "instadump: autosave failed: %s\n", e.what());
}

void session::stop_autosave(bool final_save) {
  if (autosave_thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(autosave_mu_);
      autosave_stop_ = true;
    }
    autosave_cv_.notify_all();
    autosave_thread_.join();
    for (state_entry* e : registered()) e->set_commit_listener(nullptr);
    if (final_save && options_.autosave.save_on_shutdown) {
      try {
        std::lock_guard<std::mutex> op(op_mu_);
        if (store_) save_locked(options_.durable);
      } catch (const std::exception& e) {
        report_autosave_failure(e);
      }
    }
  }
}

}  // namespace

void register_state(state_entry* entry) { session::get().add(entry); }
void unregister_state(state_entry* entry) noexcept { session::get().remove(entry); }

}  // namespace instadump::detail

namespace instadump {
namespace {

// Inside a transaction, save_all would see (and save) the transaction's own
// uncommitted writes, and reload_all would join it instead of committing.
void refuse_inside_transaction(const char* verb) {
  if (detail::current_transaction()) {
    throw error(std::string("instadump::") + verb +
                "() called inside a transaction: call it outside dosync (from after_commit(), for example)");
  }
}

}  // namespace

void setup(const std::filesystem::path& dir, const setup_options& options) {
  refuse_inside_transaction("setup");
  detail::session::get().setup(dir, options);
}
save_result save_all() { return save_all(save_options{}); }
save_result save_all(const save_options& options) {
  refuse_inside_transaction("save_all");
  return detail::session::get().save(options);
}
void reload_all() {
  refuse_inside_transaction("reload_all");
  detail::session::get().reload(std::nullopt);
}
void reload_all(std::uint64_t snapshot_id) {
  refuse_inside_transaction("reload_all");
  detail::session::get().reload(snapshot_id);
}
std::vector<snapshot_info> snapshots() { return detail::session::get().list(); }
std::vector<std::string> unclaimed_keys() { return detail::session::get().unclaimed(); }
std::optional<std::string> stored_schema(std::uint64_t fingerprint) {
  return detail::session::get().schema_text(fingerprint);
}
bool drop_unclaimed(std::string_view key) { return detail::session::get().drop(key); }
void check_value_decodes(std::string_view key, std::span<const std::byte> bytes, schema_identity stored,
                         bool framed) {
  detail::session::get().check_decodes(key, bytes, stored, framed);
}
void shutdown() { detail::session::get().shutdown(true); }
bool is_setup() noexcept {
  try {
    return detail::session::get().open();
  } catch (...) {
    return false;
  }
}

}  // namespace instadump

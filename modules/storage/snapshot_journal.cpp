// The journal of a writable snapshot store: journaled saves, writing them
// into data.mdb in the background, and recovering them when a store opens
// (see snapshot_store.h for the contract, docs/FORMAT.md for the file).
//
// A journaled save plans its snapshot exactly as write_once would write it
// (snapshot id, key ids of new names, one blob for the new values side by
// side) from the plan kept in journal_state, appends the entry with one
// flush and returns. Writing it into data.mdb later runs write_once on the
// entry's values and checks that the result is what the entry says, so the
// entry ids the caller was given are the ids in data.mdb.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>

#include "common/errors.h"
#include "storage/checksum.h"
#include "storage/lmdb_env.h"
#include "storage/manifest_codec.h"
#include "storage/record_io.h"
#include "storage/snapshot_journal.h"
#include "storage/snapshot_writer.h"
#include "storage/test_hooks.h"

namespace instadump::storage {
namespace {

std::atomic<bool> g_hold_applier{false};

using lmdb::lmdb_failure;

// write_once packs values smaller than this side by side into one blob (the
// rest get blobs of their own); a journal entry holds one blob, so only
// snapshots of such values are journaled.
constexpr std::uint64_t kPackedValueBytes = 16 * 1024;
constexpr std::uint64_t kNoKeyIdsAbove = std::uint64_t{1} << 32;
// The longest a journaled snapshot waits for company while saves go on.
constexpr std::chrono::seconds kMaxJournalWait{1};

bool is_io_error(int code) { return code == EIO || code == MDB_PANIC; }

std::string snapshots_name(std::uint64_t first, std::uint64_t last, const std::filesystem::path& dir) {
  if (first == last) return snapshot_name(first, dir);
  return "snapshots " + std::to_string(first) + " to " + std::to_string(last) + " in " + dir.string();
}

std::int64_t store_created_of(MDB_txn* txn, const store_dbis& dbis, const std::filesystem::path& dir) {
  MDB_val k = lmdb::text_key(kMetaStoreKey), v;
  lmdb::check(mdb_get(txn, dbis.meta, &k, &v), "mdb_get (meta)");
  return decode_store_meta(lmdb::bytes_of(v), "the meta record of " + dir.string()).created_unix_nanos;
}

}  // namespace

void snapshot_store::open_journal() {
  try {
    journal_ = std::make_unique<journal_state>(dir_, options_.journal_bytes);
  } catch (const journal_io_error& e) {
    throw open_failed("instadump: cannot open the journal of the store in " + dir_.string() + ": " + e.what());
  }
  journal_state& j = *journal_;
  std::vector<journal_frame> frames;
  try {
    frames = j.file.read_frames();
  } catch (const journal_io_error& e) {
    throw open_failed("instadump: cannot read the journal of the store in " + dir_.string() + ": " + e.what());
  }
  if (!frames.empty()) {
    std::uint64_t newest = 0;
    std::int64_t newest_created = 0, store_created = 0;
    try {
      lmdb::transaction txn(env_->get(), MDB_RDONLY);
      load_writer(txn.get());
      newest = writer_->chain.newest;
      newest_created = writer_->newest_created;
      store_created = store_created_of(txn.get(), *dbi_, dir_);
    } catch (const lmdb_failure& e) {
      throw open_failed("instadump: cannot open the store in " + dir_.string() + ": " + e.what());
    }
    const std::string remove_hint = "; to open data.mdb as it is, remove " + j.file.path().string() +
                                    " (the snapshots only it holds are then lost)";
    std::vector<journal_frame*> newer;  // the frames data.mdb does not have yet, by id
    for (journal_frame& f : frames) {
      if (f.snapshot_id > newest) newer.push_back(&f);
    }
    std::sort(newer.begin(), newer.end(),
              [](const journal_frame* a, const journal_frame* b) { return a->snapshot_id < b->snapshot_id; });
    std::int64_t base_created = newest_created;
    for (std::size_t i = 0; i < newer.size(); ++i) {
      journal_frame& frame = *newer[i];
      if (frame.snapshot_id != newest + 1 + i) {
        if (i == 0) {
          throw open_failed("instadump: the journal of the store in " + dir_.string() + " holds snapshot " +
                            std::to_string(frame.snapshot_id) + ", but data.mdb's newest snapshot is " +
                            std::to_string(newest) + ": data.mdb is not the one this journal was written for" +
                            remove_hint);
        }
        throw open_failed("instadump: the journal of the store in " + dir_.string() + " is damaged: it holds " +
                          snapshots_name(frame.snapshot_id, newer.back()->snapshot_id, dir_) + ", but not " +
                          "snapshot " + std::to_string(newest + 1 + i) + " before them" + remove_hint);
      }
      journal_entry entry;
      try {
        entry = decode_journal_entry(kj::arrayPtr(reinterpret_cast<const capnp::word*>(frame.payload.data()),
                                                  frame.payload.size()),
                                     "snapshot " + std::to_string(frame.snapshot_id) + " in the journal of " +
                                         dir_.string());
      } catch (const corrupt_data& e) {
        throw open_failed(std::string(e.what()) + remove_hint);
      }
      // (An unknown creation time of data.mdb's newest snapshot -- its record
      // is damaged -- cannot be compared.)
      const bool base_known = base_created != 0 || entry.base_id == 0;
      if (entry.snapshot_id != frame.snapshot_id || entry.store_created_unix_nanos != store_created ||
          (base_known && entry.base_created_unix_nanos != base_created)) {
        throw open_failed("instadump: snapshot " + std::to_string(frame.snapshot_id) + " in the journal of " +
                          dir_.string() + " was written for another copy of data.mdb (it was replaced, or restored "
                          "from a backup, after the journal was written)" + remove_hint);
      }
      base_created = entry.created_unix_nanos;
      journal_state::pending_snapshot& p = j.pending.emplace_back();
      p.payload = std::move(frame.payload);  // (a vector's buffer does not move: entry.blob stays valid)
      p.entry = std::move(entry);
    }
    if (!j.pending.empty()) {
      try {
        apply_journaled();
      } catch (const storage_error& e) {
        throw open_failed(std::string(e.what()) + " (opening the store; the journal keeps them: open it again "
                          "once the problem is solved)");
      }
    }
  }
  try {
    j.file.start_over();  // everything in it is in data.mdb now
  } catch (const journal_io_error& e) {
    throw open_failed("instadump: cannot reset the journal of the store in " + dir_.string() + ": " + e.what());
  }
  j.applier = std::thread([this] { applier_loop(); });
}

bool snapshot_store::journal_state::has_pending_in(int h) const {
  return std::any_of(pending.begin(), pending.end(), [&](const pending_snapshot& p) { return p.half == h; });
}

void snapshot_store::reset_journal_plan(MDB_txn* txn) {
  journal_state& j = *journal_;
  j.planned = false;
  if (!writer_) load_writer(txn);
  const writer_state& w = *writer_;
  if (!w.intact || w.format != format_version) return;  // the next direct write makes it so
  j.store_created = store_created_of(txn, *dbi_, dir_);
  j.newest = w.chain.newest;
  j.newest_created = w.newest_created;
  j.next_blob = read_counter(txn, dbi_->meta, kMetaNextBlobKey, 1);
  j.next_key_id = w.next_key_id;
  j.names = w.names;
  j.key_ids.clear();
  for (const auto& [name, id] : w.key_ids) {
    if (id >= kNoKeyIdsAbove) return;
    j.key_ids.emplace(name, id);
  }
  j.size_plus_one.assign(j.names.size(), 0);
  for (const stored_value& v : w.chain.current) {
    if (v.key_id >= j.size_plus_one.size()) return;
    j.size_plus_one[v.key_id] = v.ref.size + 1;
  }
  j.total_bytes = w.chain.total_bytes;
  j.planned = true;
}

std::optional<snapshot_store::journal_plan> snapshot_store::plan_journaled(std::uint64_t base_id,
                                                                          const snapshot_delta& delta,
                                                                          std::span<const schema_record> schemas) {
  journal_state& j = *journal_;
  if (!j.planned) {
    {
      std::lock_guard lock(j.mu);
      if (!j.pending.empty()) return std::nullopt;  // the direct write puts them into data.mdb first
    }
    std::unique_lock lock(mutex_);
    lmdb::transaction txn(env_->get(), MDB_RDONLY);
    reset_journal_plan(txn.get());
    if (!j.planned) return std::nullopt;
  }
  if (base_id != j.newest) return std::nullopt;

  journal_plan plan;
  journal_entry& e = plan.entry;
  e.values.reserve(delta.put.size());
  for (const auto& put : delta.put) {
    const auto* v = std::get_if<new_value>(&put);
    if (!v || v->fill_in_place || v->size_bytes >= kPackedValueBytes) return std::nullopt;
    journal_value& out = e.values.emplace_back();
    out.offset = plan.blob_bytes;
    out.size_bytes = v->size_bytes;
    out.schema = v->schema;
    out.framed = v->framed;
    plan.blob_bytes += v->size_bytes;
  }
  for (const schema_record& s : schemas) plan.schema_bytes += s.bytes.size() + 8;
  if (plan.blob_bytes + plan.schema_bytes > j.file.capacity() / 4) return std::nullopt;

  // Key ids, as write_once gives them: the id the value brings when its
  // name matches, else the name's id, else the next free id (in put order).
  std::unordered_map<std::string_view, std::uint64_t> fresh;
  std::uint64_t next_key_id = j.next_key_id;
  auto known_id = [&](std::string_view key) -> std::uint64_t {
    if (auto it = j.key_ids.find(key); it != j.key_ids.end()) return it->second;
    if (auto it = fresh.find(key); it != fresh.end()) return it->second;
    return 0;
  };
  for (std::size_t i = 0; i < delta.put.size(); ++i) {
    const new_value& v = std::get<new_value>(delta.put[i]);
    std::uint64_t id = 0;
    if (v.key_id != 0 && v.key_id < j.names.size() && j.names[v.key_id] == v.key) {
      id = v.key_id;
    } else if ((id = known_id(v.key)) == 0) {
      if (next_key_id >= kNoKeyIdsAbove) return std::nullopt;
      id = next_key_id++;
      fresh.emplace(v.key, id);
      e.new_keys.emplace_back(id, std::string(v.key));
      plan.name_bytes += v.key.size();
    }
    e.values[i].key_id = id;
  }
  for (const std::string& key : delta.remove) {
    if (std::uint64_t id = known_id(key)) e.removed.push_back(id);
  }
  std::sort(e.removed.begin(), e.removed.end());
  e.removed.erase(std::unique(e.removed.begin(), e.removed.end()), e.removed.end());
  // Every key at most once, and not also removed. (Values usually come in
  // key id order, which needs no sorting to check.)
  auto ascending = [&] {
    for (std::size_t i = 1; i < e.values.size(); ++i) {
      if (e.values[i - 1].key_id >= e.values[i].key_id) return false;
    }
    return true;
  };
  if (!ascending() || !e.removed.empty()) {
    std::vector<std::pair<std::uint64_t, std::size_t>> ids(e.values.size());
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = {e.values[i].key_id, i};
    std::sort(ids.begin(), ids.end());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const bool repeated = i > 0 && ids[i].first == ids[i - 1].first;
      if (repeated || std::binary_search(e.removed.begin(), e.removed.end(), ids[i].first)) {
        const std::string key(std::get<new_value>(delta.put[ids[i].second]).key);
        throw save_failed("instadump: the key \"" + key + "\" appears " +
                          (repeated ? "twice in one snapshot" : "both as a value and as a key to remove") +
                          "; keys must be unique");
      }
    }
  }

  e.store_created_unix_nanos = j.store_created;
  e.snapshot_id = j.newest + 1;
  e.base_id = j.newest;
  e.base_created_unix_nanos = j.newest_created;
  e.created_unix_nanos = now_unix_nanos();
  e.blob_id = plan.blob_bytes != 0 ? j.next_blob : 0;
  e.schemas.assign(schemas.begin(), schemas.end());
  return plan;
}

std::optional<snapshot_info> snapshot_store::write_journaled(std::uint64_t base_id, const snapshot_delta& delta,
                                                            bool durable, std::span<const schema_record> schemas) {
  journal_state& j = *journal_;
  std::optional<journal_plan> plan = plan_journaled(base_id, delta, schemas);
  if (!plan) return std::nullopt;
  journal_entry& e = plan->entry;
  auto message = std::make_unique<journal_message>(
      plan->blob_bytes, journal_message_words(e.values.size(), e.new_keys.size(), plan->name_bytes,
                                              e.removed.size(), plan->schema_bytes));
  const std::span<std::byte> blob = message->blob();
  std::vector<std::uint64_t> checksums(e.values.size());
  for (std::size_t i = 0; i < e.values.size(); ++i) {
    const new_value& v = std::get<new_value>(delta.put[i]);
    const journal_value& out = e.values[i];
    const std::span<std::byte> space = blob.subspan(out.offset, out.size_bytes);
    try {
      if (v.fill) {
        v.fill(space);
      } else {
        std::memcpy(space.data(), v.bytes.data(), space.size());
      }
    } catch (...) {
      std::throw_with_nested(save_failed("instadump: filling value \"" + std::string(v.key) + "\" for a snapshot in " +
                                         dir_.string() + " threw; nothing was written"));
    }
    checksums[i] = checksum_of(space);
  }
  message->finish(e);
  e.blob = blob;

  const std::size_t payload_bytes = message->payload_bytes();
  if (!j.file.fits_a_half(payload_bytes)) return std::nullopt;
  bool other_half_busy = false;
  {
    std::lock_guard lock(j.mu);
    if (!j.file.fits(payload_bytes)) other_half_busy = j.has_pending_in(j.file.half() ^ 1);
  }
  if (other_half_busy) {
    // Both halves hold snapshots data.mdb does not have yet: it takes them now.
    try {
      apply_journaled();
    } catch (const storage_error& err) {
      throw save_failed("instadump: the journal of the store in " + dir_.string() +
                        " is full, and writing the snapshots in it into data.mdb failed: " + err.what() +
                        "; nothing was written");
    }
  }
  snapshot_info info;
  info.id = e.snapshot_id;
  info.created_unix_nanos = e.created_unix_nanos;
  info.entries.reserve(e.values.size());
  for (std::size_t i = 0; i < e.values.size(); ++i) {
    const journal_value& v = e.values[i];
    const bool has_bytes = v.size_bytes != 0;
    info.entries.emplace_back(delta.entry_keys ? std::string(std::get<new_value>(delta.put[i]).key) : std::string(),
                              v.schema, has_bytes ? e.blob_id : 0, v.size_bytes, checksums[i],
                              has_bytes ? v.offset : 0, v.framed, v.key_id);
  }

  bool wake_applier = false;
  {
    std::lock_guard lock(j.mu);
    if (!j.file.fits(payload_bytes)) {
      j.file.switch_half();  // (nothing there is needed: see above)
      wake_applier = true;   // the half before goes into data.mdb now
    }
    try {
      j.file.append(e.snapshot_id, message->unpacked_bytes(), message->payload(), durable);
    } catch (const journal_io_error& err) {
      // fsyncgate: after a failed flush the kernel may have dropped pages
      // and report success next time; nothing written from now on can be
      // trusted to reach the disk.
      if (err.flush_failed()) poisoned_ = true;
      throw save_failed("instadump: writing " + snapshot_name(e.snapshot_id, dir_) + " to its journal failed (" +
                        err.what() + "); " +
                        (err.flush_failed() ? "it may not be durable and the store refuses further writes: close "
                                              "and reopen it (the last durable snapshot is intact) and check the disk"
                                            : "nothing was written; earlier snapshots are intact"));
    }
    advance_journal_plan(e);
    j.newest_pending = std::chrono::steady_clock::now();
    if (j.pending.empty()) j.oldest_pending = j.newest_pending;
    journal_state::pending_snapshot& p = j.pending.emplace_back();
    p.message = std::move(message);
    p.entry = std::move(e);
    p.half = j.file.half();
    j.failed = false;
    wake_applier = wake_applier || j.applier_idle;
  }
  if (wake_applier) j.wake.notify_one();
  info.total_bytes = j.total_bytes;
  return info;
}

void snapshot_store::advance_journal_plan(const journal_entry& done) noexcept {
  journal_state& j = *journal_;
  try {
    j.planned = false;
    j.newest = done.snapshot_id;
    j.newest_created = done.created_unix_nanos;
    if (done.blob_id != 0) j.next_blob = done.blob_id + 1;
    for (const auto& [id, name] : done.new_keys) {
      if (j.names.size() <= id) j.names.resize(id + 1);
      j.names[id] = name;
      j.key_ids.emplace(name, id);
      j.next_key_id = id + 1;
    }
    for (const journal_value& v : done.values) {
      if (j.size_plus_one.size() <= v.key_id) j.size_plus_one.resize(v.key_id + 1, 0);
      std::uint64_t& slot = j.size_plus_one[v.key_id];
      if (slot != 0) j.total_bytes -= slot - 1;
      slot = v.size_bytes + 1;
      j.total_bytes += v.size_bytes;
    }
    for (std::uint64_t id : done.removed) {
      if (id < j.size_plus_one.size() && j.size_plus_one[id] != 0) {
        j.total_bytes -= j.size_plus_one[id] - 1;
        j.size_plus_one[id] = 0;
      }
    }
    j.planned = true;
  } catch (...) {
    // Out of memory: the next save writes directly, after the journaled
    // ones, and plans afresh.
  }
}

std::uint64_t snapshot_store::apply_entry(MDB_txn* parent, const journal_entry& e) {
  if (!writer_) {
    put_batch_records(parent);  // the writer's state is read from the records
    load_writer(parent);
  }
  const writer_state& w = *writer_;
  const std::string where = snapshot_name(e.snapshot_id, dir_) + " (from its journal)";
  if (w.chain.newest != e.base_id) {
    throw storage_error("instadump: " + where + " builds on snapshot " + std::to_string(e.base_id) +
                        ", but data.mdb's newest is " + std::to_string(w.chain.newest));
  }
  auto name_of = [&](std::uint64_t id) -> const std::string& {
    for (const auto& [new_id, name] : e.new_keys) {
      if (new_id == id) return name;
    }
    if (id < w.names.size() && !w.names[id].empty()) return w.names[id];
    throw storage_error("instadump: " + where + " names key id " + std::to_string(id) + ", which data.mdb does not know");
  };
  snapshot_delta delta;
  delta.put.reserve(e.values.size());
  for (const journal_value& v : e.values) {
    new_value nv;
    nv.key = name_of(v.key_id);
    nv.schema = v.schema;
    nv.size_bytes = v.size_bytes;
    nv.framed = v.framed;
    nv.key_id = v.key_id;
    nv.bytes = e.blob.subspan(v.offset, v.size_bytes);
    delta.put.emplace_back(std::move(nv));
  }
  for (std::uint64_t id : e.removed) delta.remove.push_back(name_of(id));

  std::uint64_t freed = 0;
  const snapshot_info info = write_once(e.base_id, delta, {}, e.schemas, freed, parent, e.created_unix_nanos);
  // The entry's ids were handed out when it was journaled: data.mdb must
  // have the snapshot exactly there. (Checksums are of the same bytes.)
  bool same = info.id == e.snapshot_id && info.entries.size() == e.values.size();
  for (std::size_t i = 0; same && i < e.values.size(); ++i) {
    const journal_value& v = e.values[i];
    const entry_info& got = info.entries[i];
    const bool has_bytes = v.size_bytes != 0;
    same = got.key_id == v.key_id && got.size_bytes == v.size_bytes && got.schema == v.schema &&
           got.framed == v.framed && got.blob_id == (has_bytes ? e.blob_id : 0) &&
           got.offset == (has_bytes ? v.offset : 0);
  }
  if (!same) {
    throw storage_error("instadump: " + where + " was written into data.mdb other than it was journaled "
                        "(a bug in Instadump); the store refuses further writes");
  }
  return freed;
}

void snapshot_store::apply_journaled() {
  journal_state& j = *journal_;
  std::lock_guard apply(apply_mu_);
  std::vector<const journal_entry*> batch;
  {
    std::lock_guard lock(j.mu);
    for (const auto& p : j.pending) batch.push_back(&p.entry);  // (a deque's elements stay put while it grows)
  }
  if (batch.empty()) return;
  const std::string what = snapshots_name(batch.front()->snapshot_id, batch.back()->snapshot_id, dir_);
  std::unique_lock lock(mutex_);
  if (poisoned_) {
    throw save_failed("instadump: " + what + " cannot be written into data.mdb: an earlier flush of the store "
                      "failed, so its writes can no longer be trusted; close and reopen the store (the journal "
                      "keeps them) and check the disk");
  }
  std::uint64_t freed = 0;
  std::map<std::uint64_t, snapshot_record> held;
  struct holding {
    snapshot_store& s;
    ~holding() { s.batch_records_ = nullptr; }
  } holding_records{*this};
  for (int attempt = 0;; ++attempt) {
    freed = 0;
    held.clear();
    batch_records_ = &held;
    try {
      lmdb::transaction txn(env_->get(), 0);
      for (const journal_entry* e : batch) freed += apply_entry(txn.get(), *e);
      put_batch_records(txn.get());
      txn.commit();
      break;
    } catch (const lmdb_failure& e) {
      writer_.reset();  // it followed the writes the abort undid: load it again
      if (e.code() == MDB_MAP_FULL && attempt < 16) {
        try {
          std::size_t bytes = 0;
          for (const journal_entry* b : batch) bytes += b->blob.size();
          env_->grow_map(bytes * 2 + (std::size_t{1} << 20));
        } catch (const lmdb_failure& g) {
          throw save_failed("instadump: writing " + what + " into data.mdb failed: the store is full and its map "
                            "cannot grow (" + g.what() + "); the journal keeps them");
        }
        continue;
      }
      if (is_io_error(e.code())) poisoned_ = true;
      throw save_failed("instadump: writing " + what + " into data.mdb failed (" + e.what() + "); the journal keeps them");
    } catch (const storage_error& e) {
      writer_.reset();
      poisoned_ = true;  // the journal and data.mdb disagree: do not add to either
      throw save_failed(e.what());
    } catch (...) {
      writer_.reset();
      throw;
    }
  }
  sync_or_poison(what);
  settle_freed_pages(freed);
  std::lock_guard lock2(j.mu);
  j.pending.erase(j.pending.begin(), j.pending.begin() + static_cast<std::ptrdiff_t>(batch.size()));
  if (j.pending.empty()) {
    j.file.restart();  // everything journaled is in data.mdb (and a direct write may come next)
  } else {
    j.oldest_pending = std::chrono::steady_clock::now();  // those that came meanwhile wait, too
  }
}

namespace testing {
void hold_journal_applier(bool hold) { g_hold_applier.store(hold); }
}  // namespace testing

void snapshot_store::flush_journal() {
  check_process();
  if (journal_) apply_journaled();
}

void snapshot_store::catch_up() const {
  if (!journal_) return;
  {
    std::lock_guard lock(journal_->mu);
    if (journal_->pending.empty()) return;
  }
  try {
    // (Logically const: data.mdb then holds what the store already held.)
    const_cast<snapshot_store*>(this)->apply_journaled();
  } catch (const storage_error& e) {
    throw load_failed(std::string(e.what()) + " (reading needs data.mdb to hold every snapshot written)");
  }
}

void snapshot_store::applier_loop() {
  journal_state& j = *journal_;
  std::unique_lock lock(j.mu);
  auto ready = [&] { return !j.pending.empty() && !j.failed && !g_hold_applier.load(); };
  for (;;) {
    j.applier_idle = true;
    j.wake.wait(lock, [&] { return j.stop || ready(); });
    j.applier_idle = false;
    if (j.stop) return;
    // Let more snapshots join this commit: wait for a pause in saving
    // (journal_delay since the newest), unless saving has moved on to the
    // other half of the journal (which the next switch needs free) or the
    // oldest has waited a second.
    const auto now = std::chrono::steady_clock::now();
    if (!j.has_pending_in(j.file.half() ^ 1) && now < j.oldest_pending + kMaxJournalWait &&
        now < j.newest_pending + options_.journal_delay) {
      j.wake.wait_until(lock, std::min(j.newest_pending + options_.journal_delay, j.oldest_pending + kMaxJournalWait));
      continue;  // (a save may have come meanwhile: look again)
    }
    lock.unlock();
    bool ok = true;
    try {
      apply_journaled();
    } catch (...) {
      // The snapshots stay journaled; a save or read that needs them in
      // data.mdb tries again and reports why it fails. Try again in the
      // background after the next save.
      ok = false;
    }
    lock.lock();
    if (!ok) j.failed = true;
  }
}

void snapshot_store::stop_applier() noexcept {
  if (!journal_ || !journal_->applier.joinable()) return;
  {
    std::lock_guard lock(journal_->mu);
    journal_->stop = true;
  }
  journal_->wake.notify_all();
  journal_->applier.join();
}

}  // namespace instadump::storage

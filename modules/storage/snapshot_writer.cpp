// Writing one snapshot (snapshot_store::write_once): the new values' bytes go
// side by side into one blob, the record says what changed since the newest
// snapshot, and pruning deletes records no read needs and blobs no kept
// snapshot has values in -- all in one LMDB write transaction.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/errors.h"
#include "storage/checksum.h"
#include "storage/lmdb_env.h"
#include "storage/manifest_codec.h"
#include "storage/record_io.h"
#include "storage/snapshot_writer.h"

namespace instadump::storage {
namespace {

// New values at least this large get a blob of their own (see write_once).
constexpr std::uint64_t kOwnBlobBytes = 16 * 1024;

using lmdb::check;
using lmdb::id_key;
using lmdb::text_key;

std::string_view key_of(const std::variant<new_value, kept_value>& value) {
  return std::visit([](const auto& v) { return v.key; }, value);
}

void put_record(MDB_txn* txn, MDB_dbi dbi, const snapshot_record& record) {
  const std::vector<std::byte> bytes = encode_record(record);
  id_key key(record.id);
  MDB_val k = key.val();
  MDB_val v{bytes.size(), const_cast<std::byte*>(bytes.data())};
  check(mdb_put(txn, dbi, &k, &v, 0), "mdb_put (snapshot record)");
}

void delete_id(MDB_txn* txn, MDB_dbi dbi, std::uint64_t id, const char* what) {
  id_key key(id);
  MDB_val k = key.val();
  const int rc = mdb_del(txn, dbi, &k, nullptr);
  if (rc != MDB_NOTFOUND) check(rc, what);
}

// Deletes blob `id` (if present); returns its size.
std::uint64_t delete_blob(MDB_txn* txn, MDB_dbi dbi, std::uint64_t id) {
  id_key key(id);
  MDB_val k = key.val(), v;
  const int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return 0;
  check(rc, "mdb_get (blob to delete)");
  check(mdb_del(txn, dbi, &k, nullptr), "mdb_del (blob)");
  return v.mv_size;
}

}  // namespace

void snapshot_store::put_batch_records(MDB_txn* txn) {
  for (const auto& [id, record] : *batch_records_) put_record(txn, dbi_->snapshots, record);
  batch_records_->clear();
}

// The stored value a kept_value refers to: normally the newest snapshot's
// value of the same key; otherwise (a value put back from an older
// snapshot, or moved to another key) looked up among all kept snapshots'
// values, which are read from disk once per write that needs them.
const stored_value* snapshot_store::find_kept(writer_state& w, MDB_txn* txn, std::uint64_t key_id,
                                              const kept_value& kept) {
  if (const stored_value* cur = w.chain.current.find(key_id);
      cur && cur->ref.blob_id == kept.blob_id && cur->ref.offset == kept.offset) {
    return cur;
  }
  if (!w.kept_places_loaded) {
    w.kept_places.clear();
    const stored_chain chain = read_chain(txn, *dbi_, dir_);
    for (std::uint64_t id : chain.kept_ids()) {
      for (const stored_value& v : view_of(chain, id, dir_)) {
        if (v.ref.size != 0) w.kept_places.emplace(std::pair{v.ref.blob_id, v.ref.offset}, v);
      }
    }
    w.kept_places_loaded = true;
  }
  auto it = w.kept_places.find({kept.blob_id, kept.offset});
  return it == w.kept_places.end() ? nullptr : &it->second;
}

// Calls v.fill_in_place on `space` (through an aligned copy when LMDB's
// space is not 8-byte aligned); returns the bytes it used, or throws
// room_needed.
std::size_t snapshot_store::fill_in_place(const new_value& v, std::span<std::byte> space, std::size_t index) {
  std::size_t used;
  if (reinterpret_cast<std::uintptr_t>(space.data()) % alignof(std::uint64_t) == 0) {
    used = v.fill_in_place(space);
  } else {
    std::vector<std::uint64_t> aligned(space.size() / sizeof(std::uint64_t));
    std::span<std::byte> tmp(reinterpret_cast<std::byte*>(aligned.data()), space.size());
    used = v.fill_in_place(tmp);
    if (used <= space.size()) std::memcpy(space.data(), tmp.data(), used);
  }
  if (used > space.size()) throw room_needed{index, (used + 7) / 8 * 8};
  std::memset(space.data() + used, 0, space.size() - used);  // no stale bytes on disk
  if (used % 8 != 0) {
    throw save_failed("instadump: value \"" + std::string(v.key) + "\" was written with " + std::to_string(used) +
                      " bytes, not a multiple of 8 (whole Cap'n Proto words); nothing was written");
  }
  return used;
}

void snapshot_store::load_writer(MDB_txn* txn) {
  const store_dbis& dbis = *dbi_;
  auto w = std::make_unique<writer_state>();
  stored_chain chain = read_chain(txn, dbis, dir_);
  w->format = chain.format;
  w->next_key_id = chain.next_key_id;
  for (const auto& [id, name] : chain.names) {
    w->key_ids.emplace(name, id);
    if (id < (std::uint64_t{1} << 32)) {
      if (w->names.size() <= id) w->names.resize(id + 1);
      w->names[id] = name;
    }
  }

  if (!chain.links.empty() && chain.links.back().record) {
    w->newest_created = chain.links.back().record->created_unix_nanos;
  }
  std::vector<snapshot_record> records;
  for (const chain_link& link : chain.links) {
    if (link.record) {
      records.push_back(*link.record);
    } else {
      w->damaged.push_back(link.id);
    }
  }
  if (chain.format == 1) w->converted = records;
  if (w->damaged.empty()) {
    try {
      w->chain = rebuild_chain(records, chain.oldest);
    } catch (const corrupt_data&) {
      w->intact = false;
    }
  } else {
    w->intact = false;
  }
  if (!w->intact) {
    // Nothing can be trusted about which bytes are live: the next record is
    // written full, and nothing is reclaimed (see writer_state).
    w->chain = chain_state{};
    for (const chain_link& link : chain.links) {
      w->chain.records.emplace_back(link.id, link.record && link.record->full);
    }
    w->chain.newest = chain.newest();
    w->chain.oldest = chain.oldest;
    writer_ = std::move(w);
    return;
  }
  // Bytes nothing kept refers to (a damaged record's, pruned since) go now.
  lmdb::for_each_record(txn, dbis.blobs, false, [&](const MDB_val& k, const MDB_val&) {
    const std::uint64_t blob = lmdb::decode_id_key(k);
    if (w->chain.live.in_blob(blob) == 0) w->sweep.push_back(blob);
  });
  writer_ = std::move(w);
}

snapshot_info snapshot_store::write_once(std::uint64_t base_id, const snapshot_delta& delta,
                                         const std::vector<std::size_t>& rooms,
                                         std::span<const schema_record> schemas, std::uint64_t& freed_bytes,
                                         MDB_txn* parent, std::int64_t created) {
  // A snapshot of a batch is written straight into the batch's transaction,
  // not into a child of it: LMDB reuses the pages of a value deleted in the
  // transaction that wrote it only in a top-level transaction, so with a
  // child per snapshot every blob a later snapshot of the batch prunes would
  // still be written to disk. (A batch fails as a whole either way.)
  std::optional<lmdb::transaction> own;
  if (!parent) own.emplace(env_->get(), 0);
  MDB_txn* t = parent ? parent : own->get();
  if (!writer_) load_writer(t);
  writer_state& w = *writer_;
  const std::uint64_t id = w.chain.newest + 1;
  const auto& put = delta.put;

  // Key ids; new names get the next ids (remembered only if the write commits).
  std::uint64_t next_key_id = w.next_key_id;
  std::vector<std::pair<std::uint64_t, std::string_view>> new_names;
  std::unordered_map<std::string_view, std::uint64_t> new_ids;
  auto id_of = [&](std::string_view key, bool create) -> std::uint64_t {
    if (auto it = w.key_ids.find(key); it != w.key_ids.end()) return it->second;
    if (auto n = new_ids.find(key); n != new_ids.end()) return n->second;
    if (!create) return 0;
    const std::uint64_t fresh = next_key_id++;
    new_ids.emplace(key, fresh);
    new_names.emplace_back(fresh, key);
    return fresh;
  };
  std::vector<std::uint64_t> key_ids(put.size());
  for (std::size_t i = 0; i < put.size(); ++i) {
    const std::string_view key = key_of(put[i]);
    // Values usually bring their key id along: then only a string compare
    // confirms it, no hashing of the name.
    const std::uint64_t hint = std::visit([](const auto& v) { return v.key_id; }, put[i]);
    if (hint != 0 && hint < w.names.size() && w.names[hint] == key) {
      key_ids[i] = hint;
    } else {
      key_ids[i] = id_of(key, true);
    }
  }
  std::vector<std::uint64_t> removed;
  for (const std::string& key : delta.remove) {
    if (std::uint64_t k = id_of(key, false)) removed.push_back(k);
  }
  std::sort(removed.begin(), removed.end());
  removed.erase(std::unique(removed.begin(), removed.end()), removed.end());

  // The new values' bytes. Small ones side by side in one blob; a large one
  // in a blob of its own, so that a small value that stays in later
  // snapshots never keeps a large dead one's pages from being reused. Each
  // blob is filled right after LMDB reserves it: a later put may move it.
  std::uint64_t next_blob = read_counter(t, dbi_->meta, kMetaNextBlobKey, 1);
  auto room_of = [&](std::size_t i, const new_value& v) -> std::uint64_t {
    return v.fill_in_place && i < rooms.size() && rooms[i] != 0 ? rooms[i] : v.size_bytes;
  };
  auto reserve_blob = [&](std::uint64_t blob, std::uint64_t bytes) {
    id_key key(blob);
    MDB_val k = key.val();
    MDB_val data{bytes, nullptr};
    check(mdb_put(t, dbi_->blobs, &k, &data, MDB_RESERVE | MDB_NOOVERWRITE), "mdb_put (blob)");
    return static_cast<std::byte*>(data.mv_data);
  };
  std::vector<stored_value> stored(put.size());
  // Fills put[i] into `space` (its room, at `offset` of `blob`) and notes
  // where it is stored.
  auto fill_value = [&](std::size_t i, const new_value& v, std::span<std::byte> space, std::uint64_t blob,
                        std::uint64_t offset) {
    try {
      if (v.fill_in_place) {
        space = space.first(fill_in_place(v, space, i));
      } else if (v.fill) {
        v.fill(space);
      } else {
        std::memcpy(space.data(), v.bytes.data(), space.size());
      }
    } catch (const room_needed&) {
      throw;
    } catch (const limit_exceeded&) {
      throw;  // a value beyond a ceiling of the format: its message says which
    } catch (...) {
      std::throw_with_nested(save_failed("instadump: filling value \"" + std::string(v.key) + "\" for a snapshot in " +
                                         dir_.string() + " threw; nothing was written"));
    }
    stored_value& s = stored[i];
    s.ref = space.empty() ? value_ref{} : value_ref{blob, offset, space.size()};
    s.checksum = checksum_of(space);
    s.schema = v.schema;
    s.framed = v.framed;
  };
  std::uint64_t pack_bytes = 0;
  for (std::size_t i = 0; i < put.size(); ++i) {
    const auto* v = std::get_if<new_value>(&put[i]);
    if (!v) continue;
    const std::uint64_t room = room_of(i, *v);
    if (room < kOwnBlobBytes) {
      pack_bytes += room;
    } else {
      const std::uint64_t blob = next_blob++;
      fill_value(i, *v, std::span(reserve_blob(blob, room), room), blob, 0);
    }
  }
  // (Empty values are filled too: they have no bytes, but a checksum.)
  const std::uint64_t pack = pack_bytes != 0 ? next_blob++ : 0;
  std::byte* pack_space = pack != 0 ? reserve_blob(pack, pack_bytes) : nullptr;
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < put.size(); ++i) {
    const auto* v = std::get_if<new_value>(&put[i]);
    const std::uint64_t room = v ? room_of(i, *v) : kOwnBlobBytes;
    if (room >= kOwnBlobBytes) continue;  // a kept value, or filled above
    fill_value(i, *v, std::span(pack_space + offset, room), pack, offset);
    offset += room;
  }

  snapshot_info info;
  info.id = id;
  info.created_unix_nanos = created != 0 ? created : now_unix_nanos();
  info.entries.reserve(put.size());
  for (std::size_t i = 0; i < put.size(); ++i) {
    stored_value& s = stored[i];
    s.key_id = key_ids[i];
    if (const auto* kept_ptr = std::get_if<kept_value>(&put[i])) {  // (new values were filled above)
      const kept_value& kept = *kept_ptr;
      s.schema = kept.schema;
      const stored_value* here = nullptr;
      if (kept.blob_id == 0) {  // an empty value: no bytes anywhere
        s.checksum = checksum_of({});
        s.framed = kept.framed;
      } else if (w.intact && (here = find_kept(w, t, key_ids[i], kept))) {
        s.ref = here->ref;
        s.checksum = here->checksum;
        s.framed = here->framed;
      } else if (!w.intact) {
        // The records cannot say; the bytes must at least be there.
        id_key key(kept.blob_id);
        MDB_val k = key.val(), blob;
        const int rc = mdb_get(t, dbi_->blobs, &k, &blob);
        if (rc != 0 || kept.offset > blob.mv_size || blob.mv_size - kept.offset < kept.size_bytes) {
          throw save_failed("instadump: value \"" + std::string(kept.key) + "\" refers to " +
                            std::to_string(kept.size_bytes) + " bytes at offset " + std::to_string(kept.offset) +
                            " of blob " + std::to_string(kept.blob_id) + ", which " + dir_.string() +
                            " does not hold; save the value's bytes instead");
        }
        s.ref = value_ref{kept.blob_id, kept.offset, kept.size_bytes};
        s.checksum = kept.checksum;
        s.framed = kept.framed;
      } else {
        throw save_failed("instadump: value \"" + std::string(kept.key) + "\" refers to offset " +
                          std::to_string(kept.offset) + " of blob " + std::to_string(kept.blob_id) +
                          ", where no snapshot kept in " + dir_.string() +
                          " has a value (pruned or never written); save the value's bytes instead");
      }
    }
    info.entries.push_back(entry_info{{}, s.schema, s.ref.blob_id, s.ref.size, s.checksum,
                                      s.ref.offset, s.framed, s.key_id});
  }
  const auto by_key = [](const stored_value& a, const stored_value& b) { return a.key_id < b.key_id; };
  if (!std::is_sorted(stored.begin(), stored.end(), by_key)) std::sort(stored.begin(), stored.end(), by_key);
  for (std::size_t i = 0; i < stored.size(); ++i) {
    const bool repeated = i > 0 && stored[i].key_id == stored[i - 1].key_id;
    if (repeated || std::binary_search(removed.begin(), removed.end(), stored[i].key_id)) {
      const auto at = std::find(key_ids.begin(), key_ids.end(), stored[i].key_id) - key_ids.begin();
      throw save_failed("instadump: the key \"" + std::string(key_of(put[at])) + "\" appears " +
                        (repeated ? "twice in one snapshot" : "both as a value and as a key to remove") +
                        "; keys must be unique");
    }
  }

  // What changed since the newest snapshot. Building on the newest (the
  // usual case) touches only what `delta` names; building on an older or
  // an empty base works out the whole new snapshot first.
  view_change change;
  std::uint64_t next_count = 0;
  std::optional<snapshot_view> whole;  // the new snapshot, when it was worked out
  if (w.intact && base_id == w.chain.newest && base_id != 0) {
    change = change_of(w.chain.current, stored, removed);
    next_count = w.chain.current.size() - change.removed.size() + change.added;
  } else {
    snapshot_view next;
    if (base_id != 0) {
      const stored_chain chain = read_chain(t, *dbi_, dir_);
      if (base_id < chain.oldest || base_id > chain.newest()) {
        throw save_failed("instadump: cannot build a snapshot on " + snapshot_name(base_id, dir_) +
                          ": it is not kept (the kept ones are " + std::to_string(chain.oldest) + " to " +
                          std::to_string(chain.newest()) + ")");
      }
      try {
        next = view_of(chain, base_id, dir_);
      } catch (const storage_error& e) {
        throw save_failed(std::string("instadump: cannot build a snapshot on a snapshot that cannot be read: ") +
                          e.what());
      }
    }
    view_index base;
    base.assign(std::move(next));
    next = base.with(stored, removed);
    static const snapshot_view nothing;
    change = diff_views(w.intact ? w.chain.current.values() : nothing, next);
    next_count = next.size();
    whole = std::move(next);
  }

  // The record: what changed, or (every so often, or when the records on
  // disk cannot be trusted) all of it.
  const bool full = !w.intact || next_record_full(w.chain, change.changed.size(), next_count);
  snapshot_record record;
  record.id = id;
  record.created_unix_nanos = info.created_unix_nanos;
  record.full = full;
  if (full) {
    if (whole) {
      record.entries = *whole;
    } else {
      record.entries = w.chain.current.with(change.changed, change.removed);
    }
  } else {
    record.entries = change.changed;
    record.removed = change.removed;
  }
  record.value_count = next_count;
  std::uint64_t total = w.intact ? w.chain.total_bytes : 0;
  if (whole) {
    total = 0;
    for (const stored_value& v : *whole) total += v.ref.size;
  } else {
    for (const value_ref& r : change.superseded) total -= r.size;
    for (const stored_value& v : change.changed) total += v.ref.size;
  }
  record.total_bytes = info.total_bytes = total;

  chain_step step = plan_step(w.chain, change, full, options_.keep_generations);
  if (!w.intact) step.drop_blobs.clear();
  std::vector<std::uint64_t> drop_blobs = step.drop_blobs;
  drop_blobs.insert(drop_blobs.end(), w.sweep.begin(), w.sweep.end());

  // A format 1 store becomes format 2 with this write: its manifests are
  // replaced by the records converted from them, its names get key ids.
  if (w.format == 1) {
    for (const snapshot_record& r : w.converted) put_record(t, dbi_->snapshots, r);
    for (const auto& [key, key_id] : w.key_ids) {  // format 1 has no other names
      id_key k(key_id);
      MDB_val kv = k.val();
      MDB_val v{key.size(), const_cast<char*>(key.data())};
      check(mdb_put(t, dbi_->keys, &kv, &v, 0), "mdb_put (key name)");
    }
    auto meta = encode_store_meta(store_meta{format_version, now_unix_nanos()});
    MDB_val k = text_key(kMetaStoreKey);
    MDB_val v{meta.asBytes().size(), meta.asBytes().begin()};
    check(mdb_put(t, dbi_->meta, &k, &v, 0), "mdb_put (meta)");
  } else if (w.format < format_version) {
    // Format 2 to 3: the data stays as it is; from now on the store may have
    // snapshots in its journal, which builds that know only format 2 would
    // not see, so they must refuse it. (The creation time stays: journal
    // entries name the store by it.)
    MDB_val k = text_key(kMetaStoreKey), old_meta;
    check(mdb_get(t, dbi_->meta, &k, &old_meta), "mdb_get (meta)");
    store_meta meta = decode_store_meta(lmdb::bytes_of(old_meta), "the meta record of " + dir_.string());
    meta.format_version = format_version;
    auto bytes = encode_store_meta(meta);
    MDB_val v{bytes.asBytes().size(), bytes.asBytes().begin()};
    check(mdb_put(t, dbi_->meta, &k, &v, 0), "mdb_put (meta)");
  }
  for (const auto& [key_id, key] : new_names) {
    id_key k(key_id);
    MDB_val kv = k.val();
    MDB_val v{key.size(), const_cast<char*>(key.data())};
    check(mdb_put(t, dbi_->keys, &kv, &v, 0), "mdb_put (key name)");
  }
  // In a batch, a record is encoded and stored when the batch commits, and
  // only if a later snapshot of the batch has not pruned it by then.
  const bool held = batch_records_ != nullptr && parent != nullptr;
  if (!held) put_record(t, dbi_->snapshots, record);
  for (const schema_record& schema : schemas) {
    id_key key(schema.fingerprint);
    MDB_val k = key.val();
    MDB_val v{schema.bytes.size(), const_cast<std::byte*>(schema.bytes.data())};
    check(mdb_put(t, dbi_->schemas, &k, &v, 0), "mdb_put (schema)");
  }
  for (std::uint64_t r : step.drop_records) {
    if (!held || batch_records_->erase(r) == 0) delete_id(t, dbi_->snapshots, r, "mdb_del (snapshot record)");
  }
  std::uint64_t freed = 0;
  for (std::uint64_t b : drop_blobs) freed += delete_blob(t, dbi_->blobs, b);
  write_counter(t, dbi_->meta, kMetaNextBlobKey, next_blob);
  write_counter(t, dbi_->meta, kMetaNextKeyIdKey, next_key_id);
  write_counter(t, dbi_->meta, kMetaOldestKey, step.oldest);
  if (held) (*batch_records_)[record.id] = record;
  if (own) own->commit();
  freed_bytes = freed;

  // Written: now the in-memory state follows. Should that fail (memory), the
  // next write loads it from disk again.
  try {
    for (const auto& [key_id, key] : new_names) {
      w.key_ids.emplace(std::string(key), key_id);
      if (key_id < (std::uint64_t{1} << 32)) {
        if (w.names.size() <= key_id) w.names.resize(key_id + 1);
        w.names[key_id] = key;
      }
    }
    w.next_key_id = next_key_id;
    w.newest_created = info.created_unix_nanos;
    w.format = format_version;
    w.converted.clear();
    w.sweep.clear();
    w.kept_places_loaded = false;
    w.kept_places.clear();
    apply_step(w.chain, change, record.entries.size(), step);
    if (!w.intact && whole) {  // what the records said before is unknown: take the new snapshot as it is
      w.chain.current.assign(*whole);
      w.chain.total_bytes = total;
    }
    if (!w.intact &&
        std::all_of(w.damaged.begin(), w.damaged.end(), [&](std::uint64_t d) {
          return std::binary_search(step.drop_records.begin(), step.drop_records.end(), d);
        })) {
      writer_.reset();  // the damaged records are gone: reload (and sweep) next time
    }
  } catch (...) {
    writer_.reset();
  }
  return info;
}

}  // namespace instadump::storage

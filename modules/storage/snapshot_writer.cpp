// Writing one snapshot (snapshot_store::write_once): the new values' bytes go
// side by side into one blob, the record says what changed since the newest
// snapshot, and pruning deletes records no read needs and blobs no kept
// snapshot has values in -- all in one LMDB write transaction.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
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

using lmdb::check;
using lmdb::id_key;

std::int64_t now_unix_nanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

MDB_val text_key(const char* s) { return MDB_val{std::strlen(s), const_cast<char*>(s)}; }

const std::string& key_of(const std::variant<new_value, kept_value>& value) {
  return std::visit([](const auto& v) -> const std::string& { return v.key; }, value);
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

}  // namespace

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
  if (chain.format == 1) w->converted_names = chain.names;

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

snapshot_info snapshot_store::write_once(const std::vector<std::variant<new_value, kept_value>>& values,
                                         std::span<const schema_record> schemas) {
  lmdb::transaction txn(env_->get(), 0);
  MDB_txn* t = txn.get();
  if (!writer_) load_writer(t);
  writer_state& w = *writer_;
  const std::uint64_t id = w.chain.newest + 1;
  const std::string name = snapshot_name(id, dir_);

  // Key ids; new names get the next ids (remembered only if the write commits).
  std::uint64_t next_key_id = w.next_key_id;
  std::vector<std::pair<std::uint64_t, const std::string*>> new_names;
  std::unordered_map<std::string_view, std::uint64_t> new_ids;
  std::vector<std::uint64_t> key_ids(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::string& key = key_of(values[i]);
    // A value kept in place usually still has the key it was stored under:
    // then its id comes from the stored value, without hashing the name.
    if (const auto* kept = std::get_if<kept_value>(&values[i]); kept && w.intact) {
      if (const stored_value* live = w.chain.live.find(kept->blob_id, kept->offset);
          live && live->key_id < w.names.size() && w.names[live->key_id] == key) {
        key_ids[i] = live->key_id;
        continue;
      }
    }
    if (auto it = w.key_ids.find(key); it != w.key_ids.end()) {
      key_ids[i] = it->second;
    } else if (auto n = new_ids.find(key); n != new_ids.end()) {
      key_ids[i] = n->second;  // a repeated new key: refused below
    } else {
      key_ids[i] = next_key_id++;
      new_ids.emplace(key, key_ids[i]);
      new_names.emplace_back(key_ids[i], &key);
    }
  }

  // The new values' bytes, side by side in one blob written by their fills.
  std::uint64_t next_blob = read_counter(t, dbi_->meta, kMetaNextBlobKey, 1);
  std::uint64_t pack_bytes = 0;
  for (const auto& value : values) {
    if (const auto* v = std::get_if<new_value>(&value)) pack_bytes += v->size_bytes;
  }
  const std::uint64_t pack = pack_bytes != 0 ? next_blob++ : 0;
  std::byte* pack_space = nullptr;
  if (pack != 0) {
    id_key key(pack);
    MDB_val k = key.val();
    MDB_val data{pack_bytes, nullptr};
    check(mdb_put(t, dbi_->blobs, &k, &data, MDB_RESERVE | MDB_NOOVERWRITE), "mdb_put (blob)");
    pack_space = static_cast<std::byte*>(data.mv_data);
  }

  snapshot_view next;
  next.reserve(values.size());
  snapshot_info info;
  info.id = id;
  info.created_unix_nanos = now_unix_nanos();
  info.entries.reserve(values.size());
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    stored_value s;
    s.key_id = key_ids[i];
    if (const auto* v = std::get_if<new_value>(&values[i])) {
      std::span<std::byte> space(pack_space + offset, v->size_bytes);
      try {
        v->fill(space);
      } catch (...) {
        std::throw_with_nested(save_failed("instadump: filling value \"" + v->key + "\" for a snapshot in " +
                                           dir_.string() + " threw; nothing was written"));
      }
      s.ref = v->size_bytes == 0 ? value_ref{} : value_ref{pack, offset, v->size_bytes};
      s.checksum = checksum_of(space);
      s.schema = v->schema;
      s.framed = v->framed;
      offset += v->size_bytes;
    } else {
      const auto& kept = std::get<kept_value>(values[i]);
      s.schema = kept.schema;
      if (kept.blob_id == 0) {  // an empty value: no bytes anywhere
        s.checksum = checksum_of({});
        s.framed = kept.framed;
      } else if (const stored_value* live = w.intact ? w.chain.live.find(kept.blob_id, kept.offset) : nullptr) {
        s.ref = live->ref;
        s.checksum = live->checksum;
        s.framed = live->framed;
      } else if (!w.intact) {
        // The records cannot say; the bytes must at least be there.
        id_key key(kept.blob_id);
        MDB_val k = key.val(), blob;
        const int rc = mdb_get(t, dbi_->blobs, &k, &blob);
        if (rc != 0 || kept.offset > blob.mv_size || blob.mv_size - kept.offset < kept.size_bytes) {
          throw save_failed("instadump: value \"" + kept.key + "\" refers to " + std::to_string(kept.size_bytes) +
                            " bytes at offset " + std::to_string(kept.offset) + " of blob " +
                            std::to_string(kept.blob_id) + ", which " + dir_.string() +
                            " does not hold; save the value's bytes instead");
        }
        s.ref = value_ref{kept.blob_id, kept.offset, kept.size_bytes};
        s.checksum = kept.checksum;
        s.framed = kept.framed;
      } else {
        throw save_failed("instadump: value \"" + kept.key + "\" refers to offset " + std::to_string(kept.offset) +
                          " of blob " + std::to_string(kept.blob_id) + ", where no snapshot kept in " +
                          dir_.string() + " has a value (pruned or never written); save the value's bytes instead");
      }
    }
    info.entries.push_back(entry_info{key_of(values[i]), s.schema, s.ref.blob_id, s.ref.size, s.checksum,
                                      s.ref.offset, s.framed});
    info.total_bytes += s.ref.size;
    next.push_back(s);
  }
  std::sort(next.begin(), next.end(), [](const stored_value& a, const stored_value& b) { return a.key_id < b.key_id; });
  for (std::size_t i = 1; i < next.size(); ++i) {
    if (next[i].key_id == next[i - 1].key_id) {
      const auto dup = std::find(key_ids.begin(), key_ids.end(), next[i].key_id) - key_ids.begin();
      throw save_failed("instadump: the key \"" + key_of(values[dup]) +
                        "\" appears twice in one snapshot; keys must be unique");
    }
  }

  // The record: what changed since the newest snapshot, or all of it.
  static const snapshot_view nothing;
  const view_change change = diff_views(w.intact ? w.chain.current : nothing, next);
  const bool full = !w.intact || next_record_full(w.chain, change.changed.size(), next.size());
  snapshot_record record;
  record.id = id;
  record.created_unix_nanos = info.created_unix_nanos;
  record.full = full;
  record.entries = full ? next : change.changed;
  if (!full) record.removed = change.removed;
  record.superseded = change.superseded;
  record.value_count = next.size();
  record.total_bytes = info.total_bytes;

  chain_step step = plan_step(w.chain, change, full, options_.keep_generations);
  if (!w.intact) step.drop_blobs.clear();
  std::vector<std::uint64_t> drop_blobs = step.drop_blobs;
  drop_blobs.insert(drop_blobs.end(), w.sweep.begin(), w.sweep.end());

  // A format 1 store becomes format 2 with this write: its manifests are
  // replaced by the records converted from them, its names get key ids.
  if (w.format == 1) {
    for (const snapshot_record& r : w.converted) put_record(t, dbi_->snapshots, r);
    for (const auto& [key_id, key] : w.converted_names) {
      id_key k(key_id);
      MDB_val kv = k.val();
      MDB_val v{key.size(), const_cast<char*>(key.data())};
      check(mdb_put(t, dbi_->keys, &kv, &v, 0), "mdb_put (key name)");
    }
    auto meta = encode_store_meta(store_meta{format_version, now_unix_nanos()});
    MDB_val k = text_key(kMetaStoreKey);
    MDB_val v{meta.asBytes().size(), meta.asBytes().begin()};
    check(mdb_put(t, dbi_->meta, &k, &v, 0), "mdb_put (meta)");
  }
  for (const auto& [key_id, key] : new_names) {
    id_key k(key_id);
    MDB_val kv = k.val();
    MDB_val v{key->size(), const_cast<char*>(key->data())};
    check(mdb_put(t, dbi_->keys, &kv, &v, 0), "mdb_put (key name)");
  }
  put_record(t, dbi_->snapshots, record);
  for (const schema_record& schema : schemas) {
    id_key key(schema.fingerprint);
    MDB_val k = key.val();
    MDB_val v{schema.bytes.size(), const_cast<std::byte*>(schema.bytes.data())};
    check(mdb_put(t, dbi_->schemas, &k, &v, 0), "mdb_put (schema)");
  }
  for (std::uint64_t r : step.drop_records) delete_id(t, dbi_->snapshots, r, "mdb_del (snapshot record)");
  for (std::uint64_t b : drop_blobs) delete_id(t, dbi_->blobs, b, "mdb_del (blob)");
  write_counter(t, dbi_->meta, kMetaNextBlobKey, next_blob);
  write_counter(t, dbi_->meta, kMetaNextKeyIdKey, next_key_id);
  write_counter(t, dbi_->meta, kMetaOldestKey, step.oldest);
  txn.commit();

  // Written: now the in-memory state follows. Should that fail (memory), the
  // next write loads it from disk again.
  try {
    for (const auto& [key_id, key] : new_names) {
      w.key_ids.emplace(*key, key_id);
      if (key_id < (std::uint64_t{1} << 32)) {
        if (w.names.size() <= key_id) w.names.resize(key_id + 1);
        w.names[key_id] = *key;
      }
    }
    w.next_key_id = next_key_id;
    w.format = format_version;
    w.converted.clear();
    w.converted_names.clear();
    w.sweep.clear();
    const std::size_t record_entries = record.entries.size();
    apply_step(w.chain, change, std::move(next), record_entries, step);
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

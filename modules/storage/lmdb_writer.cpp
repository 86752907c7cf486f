// Writing snapshots into data.mdb: the retries of a direct write, batches,
// and one snapshot's write in steps (see lmdb_writer.h).
#include "storage/lmdb_writer.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "common/errors.h"
#include "storage/chunk_admission.h"
#include "storage/error_advice.h"
#include "storage/io_errors.h"
#include "storage/lmdb_env.h"
#include "storage/manifest_codec.h"
#include "storage/value_placement.h"

namespace instadump::storage {
namespace {

using lmdb::check;
using lmdb::id_key;
using lmdb::lmdb_failure;
using lmdb::text_key;

// Map growth stops here (1 TiB): a write that needs more is refused.
constexpr std::size_t kMaxMapSize = std::size_t{1} << 40;

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

void put_name(MDB_txn* txn, MDB_dbi dbi, std::uint64_t key_id, std::string_view name) {
  id_key k(key_id);
  MDB_val kv = k.val();
  MDB_val v{name.size(), const_cast<char*>(name.data())};
  check(mdb_put(txn, dbi, &kv, &v, 0), "mdb_put (key name)");
}

void delete_id(MDB_txn* txn, MDB_dbi dbi, std::uint64_t id, const char* what) {
  id_key key(id);
  MDB_val k = key.val();
  const int rc = mdb_del(txn, dbi, &k, nullptr);
  if (rc != MDB_NOTFOUND) check(rc, what);
}

// Deletes blob (or chunk) `id` (if present); returns its size.
std::uint64_t delete_blob(MDB_txn* txn, MDB_dbi dbi, std::uint64_t id) {
  id_key key(id);
  MDB_val k = key.val(), v;
  const int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return 0;
  check(rc, "mdb_get (to delete)");
  check(mdb_del(txn, dbi, &k, nullptr), "mdb_del");
  return v.mv_size;
}

// Makes a store of an older format one of format `to` (3, or 4 when the
// write stores chunks), with this write.
void convert_format(MDB_txn* txn, const store_dbis& dbis, const writer_state& w, std::uint32_t to,
                    const std::filesystem::path& dir) {
  if (w.format == 1) {
    // A format 1 store becomes format 2 with this write: its manifests are
    // replaced by the records converted from them, its names get key ids.
    for (const snapshot_record& r : w.converted) put_record(txn, dbis.snapshots, r);
    for (const auto& [key, key_id] : w.key_ids) put_name(txn, dbis.keys, key_id, key);  // format 1 has no other names
    auto meta = encode_store_meta(store_meta{to, now_unix_nanos()});
    MDB_val k = text_key(kMetaStoreKey);
    MDB_val v{meta.asBytes().size(), meta.asBytes().begin()};
    check(mdb_put(txn, dbis.meta, &k, &v, 0), "mdb_put (meta)");
  } else if (w.format < to) {
    // Format 2 to 3: the data stays as it is; from now on the store may have
    // snapshots in its journal, which builds that know only format 2 would
    // not see, so they must refuse it. To 4: the store holds chunks, which
    // builds that know only format 3 would not read. (The creation time
    // stays: journal entries name the store by it.)
    MDB_val k = text_key(kMetaStoreKey), old_meta;
    check(mdb_get(txn, dbis.meta, &k, &old_meta), "mdb_get (meta)");
    store_meta meta = decode_store_meta(lmdb::bytes_of(old_meta), "the meta record of " + dir.string());
    meta.format_version = to;
    auto bytes = encode_store_meta(meta);
    MDB_val v{bytes.asBytes().size(), bytes.asBytes().begin()};
    check(mdb_put(txn, dbis.meta, &k, &v, 0), "mdb_put (meta)");
  }
}

// Stores the new chunks (ids ascending, above every stored one: appended).
// Through one cursor: after an append it stays on the last page, so the
// next append finds its place without searching the tree from the root
// (mdb_put would, once per chunk: a first save writes ~100,000).
void put_chunks(MDB_txn* txn, MDB_dbi dbi, const admitted_chunks& chunks) {
  if (chunks.links.empty()) return;
  MDB_cursor* cursor = nullptr;
  check(mdb_cursor_open(txn, dbi, &cursor), "mdb_cursor_open (chunks)");
  const std::unique_ptr<MDB_cursor, void (*)(MDB_cursor*)> guard(cursor, mdb_cursor_close);
  for (std::size_t i = 0; i < chunks.links.size(); ++i) {
    id_key key(chunks.links[i].id);
    MDB_val k = key.val();
    MDB_val v{chunks.bytes[i].size(), const_cast<std::byte*>(chunks.bytes[i].data())};
    check(mdb_cursor_put(cursor, &k, &v, MDB_APPEND), "mdb_cursor_put (chunk)");
  }
}

// The chunk roots of the values whose intervals start with a write: those of
// its changed values, each once per listing.
std::vector<std::uint64_t> started_roots(const view_change& change) {
  std::vector<std::uint64_t> roots;
  for (const stored_value& v : change.changed) {
    const auto ids = v.chunk_roots.ids();
    roots.insert(roots.end(), ids.begin(), ids.end());
  }
  return roots;
}

}  // namespace

writer_state& lmdb_writer::loaded_state(MDB_txn* txn) {
  if (!state_) {
    if (in_batch_) {
      // The state is read from the records: first those the batch held back.
      for (const auto& [id, record] : batch_records_) put_record(txn, env().dbis().snapshots, record);
      batch_records_.clear();
    }
    state_ = writer_state::load(txn, env().dbis(), env().dir());
  }
  return *state_;
}

std::uint64_t lmdb_writer::next_chunk_id() {
  instadump::detail::lock_guard lock(env().mu);
  lmdb::transaction txn(env().handle(), MDB_RDONLY);
  return loaded_state(txn.get()).next_chunk_id;
}

snapshot_info lmdb_writer::write(std::uint64_t base_id, const snapshot_delta& delta, bool durable,
                                 std::span<const schema_record> schemas) {
  instadump::detail::lock_guard lock(env().mu);
  return write_locked(base_id, delta, durable, schemas);
}

snapshot_info lmdb_writer::save(std::uint64_t base_id, const snapshot_delta& delta, bool durable,
                                std::span<const schema_record> schemas) {
  instadump::detail::lock_guard lock(env().mu);
  env().refuse_writes_if_poisoned();
  return write_locked(base_id, delta, durable, schemas);
}

snapshot_info lmdb_writer::write_locked(std::uint64_t base_id, const snapshot_delta& delta, bool durable,
                                        std::span<const schema_record> schemas) {
  const auto& values = delta.put;
  std::size_t new_bytes = 0;
  for (const auto& value : values) {
    if (const auto* v = std::get_if<new_value>(&value)) new_bytes += v->size_bytes;
  }
  const std::filesystem::path& dir = env().dir();
  std::vector<std::size_t> rooms;  // grown for values filled in place that needed more
  for (int room_retries = 0;;) {
    snapshot_info info;
    std::uint64_t freed_bytes = 0;
    try {
      info = write_once(nullptr, base_id, delta, rooms, schemas, 0, freed_bytes);
    } catch (const room_needed& r) {
      if (++room_retries > 8) {
        throw save_failed("instadump: value \"" + std::string(std::get<new_value>(values[r.index]).key) +
                          "\" kept asking for more room (" + std::to_string(r.bytes) + " bytes); nothing was written");
      }
      rooms.resize(values.size(), 0);
      rooms[r.index] = r.bytes;
      new_bytes += r.bytes;
      continue;
    } catch (const lmdb_failure& e) {
      if (e.code() == MDB_MAP_FULL) {
        const std::size_t current = env().map_size();
        if (current >= kMaxMapSize) {
          throw save_failed("instadump: the store in " + dir.string() + " reached the map size limit of " +
                            std::to_string(kMaxMapSize) + " bytes; nothing was written");
        }
        try {
          env().grow_map(new_bytes * 2 + (std::size_t{1} << 20));
        } catch (const lmdb_failure& g) {
          throw save_failed("instadump: the store in " + dir.string() + " is full and its map cannot grow (" +
                            g.what() + "); nothing was written");
        }
        continue;
      }
      if (lmdb::is_io_error(e.code())) env().poison();
      throw save_failed("instadump: writing a snapshot to " + dir.string() + " failed (" +
                        describe_write_failure(e.code(), e.what(), dir, new_bytes) + "); " +
                        (env().poisoned() ? std::string(advice::reopen_store) + "; the last durable snapshot is intact"
                                         : std::string("nothing was written; earlier snapshots are intact")));
    }
    if (durable) {
      env().sync_or_poison(snapshot_name(info.id, dir));
    } else {
      env().mark_unsynced();
    }
    env().settle_freed_pages(freed_bytes);
    for (std::size_t i = 0; delta.entry_keys && i < values.size(); ++i) info.entries[i].key = key_of(values[i]);
    return info;
  }
}

void lmdb_writer::start_batch() {
  in_batch_ = true;
  batch_records_.clear();
}

snapshot_info lmdb_writer::write_in_batch(MDB_txn* txn, std::uint64_t base_id, const snapshot_delta& delta,
                                          std::span<const schema_record> schemas, std::int64_t created,
                                          std::uint64_t& freed_bytes) {
  return write_once(txn, base_id, delta, {}, schemas, created, freed_bytes);
}

void lmdb_writer::finish_batch(MDB_txn* txn) {
  for (const auto& [id, record] : batch_records_) put_record(txn, env().dbis().snapshots, record);
  batch_records_.clear();
  in_batch_ = false;
}

void lmdb_writer::forget() {
  state_.reset();
  batch_records_.clear();
  in_batch_ = false;
}

snapshot_info lmdb_writer::write_once(MDB_txn* batch_txn, std::uint64_t base_id, const snapshot_delta& delta,
                                      const std::vector<std::size_t>& rooms, std::span<const schema_record> schemas,
                                      std::int64_t created, std::uint64_t& freed_bytes) {
  // A snapshot of a batch is written straight into the batch's transaction,
  // not into a child of it: LMDB reuses the pages of a value deleted in the
  // transaction that wrote it only in a top-level transaction, so with a
  // child per snapshot every blob a later snapshot of the batch prunes would
  // still be written to disk. (A batch fails as a whole either way.)
  std::optional<lmdb::transaction> own;
  if (!batch_txn) own.emplace(env().handle(), 0);
  MDB_txn* const txn = batch_txn ? batch_txn : own->get();
  writer_state& w = loaded_state(txn);
  const store_dbis& dbis = env().dbis();
  const std::filesystem::path& dir = env().dir();
  const auto& put = delta.put;

  // 1. Key ids; new names get the next ids (remembered only if the write commits).
  key_assignment keys(w.names, w.key_ids, w.next_key_id);
  std::vector<std::uint64_t> key_ids(put.size());
  for (std::size_t i = 0; i < put.size(); ++i) {
    const std::string_view key = key_of(put[i]);
    const std::uint64_t hint = std::visit([](const auto& v) { return v.key_id; }, put[i]);
    const std::uint64_t known = keys.find(key, hint);
    key_ids[i] = known != 0 ? known : keys.add(key);
  }
  const std::vector<std::uint64_t> removed = keys.removed(delta.remove);

  // 2. Placing the values: the new ones' bytes into blobs, then the kept
  // ones where they are.
  std::vector<stored_value> stored(put.size());
  const std::uint64_t next_blob =
      place_new_values(txn, dbis.blobs, put, rooms, read_counter(txn, dbis.meta, kMetaNextBlobKey, 1), stored, dir);
  snapshot_info info;
  info.id = w.chain.newest + 1;
  info.created_unix_nanos = created != 0 ? created : now_unix_nanos();
  info.entries.reserve(put.size());
  std::vector<value_roots> roots;  // of the values that have any
  for (std::size_t i = 0; i < put.size(); ++i) {
    stored_value& s = stored[i];
    s.key_id = key_ids[i];
    if (const auto* kept = std::get_if<kept_value>(&put[i])) place_kept_value(w, txn, dbis, *kept, s, dir);
    info.entries.push_back(entry_info{{}, s.schema, s.ref.blob_id, s.ref.size, s.checksum,
                                      s.ref.offset, s.framed, s.key_id, s.chunk_roots.to_vector()});
    if (!s.chunk_roots.empty()) roots.push_back(value_roots{key_of(put[i]), s.chunk_roots.ids()});
  }
  // The new chunks, checked against those stored, go in after the values.
  admitted_chunks chunks =
      admit_chunks(w.chunks, w.next_chunk_id, delta.chunks, roots, dir, delta.chunks_sealed_here);
  chunks.next_chunk_id = std::max(chunks.next_chunk_id, delta.next_chunk_id_floor);
  put_chunks(txn, dbis.chunks, chunks);
  // Every key at most once, and not also removed.
  const auto by_key = [](const stored_value& a, const stored_value& b) { return a.key_id < b.key_id; };
  if (!std::is_sorted(stored.begin(), stored.end(), by_key)) std::sort(stored.begin(), stored.end(), by_key);
  const auto name_of = [&](const stored_value& s) {
    return key_of(put[std::find(key_ids.begin(), key_ids.end(), s.key_id) - key_ids.begin()]);
  };
  refuse_repeated_keys(stored, [](const stored_value& s) { return s.key_id; }, removed, name_of);

  // 3. What changed since the newest snapshot, and the record that says it.
  const snapshot_change change = work_out_change(w, txn, dbis, dir, base_id, stored, removed);
  const snapshot_record record = build_record(w, info.id, info.created_unix_nanos, change);
  info.total_bytes = record.total_bytes;

  // 4. Pruning: what the new record lets go, chunks included (none while
  // the records cannot be trusted).
  const pruning prune = plan_pruning(w, change.change, record.full, env().options().keep_generations);
  chunk_writes chunk_changes;
  chunk_changes.step = w.chunks.plan(std::move(chunks.links), started_roots(change.change), prune.step.ended_roots,
                                     w.intact);
  chunk_changes.next_chunk_id = chunks.next_chunk_id;
  chunk_changes.format = std::max(w.format, format_version_without_chunks);
  if (!chunk_changes.step.created.empty() || !roots.empty()) chunk_changes.format = format_version;

  // 5. Storing it all, then the in-memory state follows.
  const std::uint64_t freed = store(txn, w, record, keys, schemas, prune, next_blob, chunk_changes);
  if (own) own->commit();
  freed_bytes = freed;
  follow(w, record, keys, change, prune, std::move(chunk_changes));
  return info;
}

std::uint64_t lmdb_writer::store(MDB_txn* txn, writer_state& w, const snapshot_record& record,
                                 const key_assignment& keys, std::span<const schema_record> schemas,
                                 const pruning& prune, std::uint64_t next_blob, const chunk_writes& chunks) {
  const store_dbis& dbis = env().dbis();
  convert_format(txn, dbis, w, chunks.format, env().dir());
  for (const auto& [key_id, key] : keys.added()) put_name(txn, dbis.keys, key_id, key);
  // In a batch, a record is encoded and stored when the batch commits, and
  // only if a later snapshot of the batch has not pruned it by then.
  if (!in_batch_) put_record(txn, dbis.snapshots, record);
  for (const schema_record& schema : schemas) {
    id_key key(schema.fingerprint);
    MDB_val k = key.val();
    MDB_val v{schema.bytes.size(), const_cast<std::byte*>(schema.bytes.data())};
    check(mdb_put(txn, dbis.schemas, &k, &v, 0), "mdb_put (schema)");
  }
  for (std::uint64_t r : prune.step.drop_records) {
    if (!in_batch_ || batch_records_.erase(r) == 0) delete_id(txn, dbis.snapshots, r, "mdb_del (snapshot record)");
  }
  std::uint64_t freed = 0;
  for (std::uint64_t b : prune.drop_blobs) freed += delete_blob(txn, dbis.blobs, b);
  for (std::uint64_t c : chunks.step.dropped) freed += delete_blob(txn, dbis.chunks, c);
  if (chunks.next_chunk_id != w.next_chunk_id) write_counter(txn, dbis.meta, kMetaNextChunkKey, chunks.next_chunk_id);
  write_counter(txn, dbis.meta, kMetaNextBlobKey, next_blob);
  write_counter(txn, dbis.meta, kMetaNextKeyIdKey, keys.next_key_id());
  write_counter(txn, dbis.meta, kMetaOldestKey, prune.step.oldest);
  if (in_batch_) batch_records_[record.id] = record;
  return freed;
}

void lmdb_writer::follow(writer_state& w, const snapshot_record& record, const key_assignment& keys,
                         const snapshot_change& change, const pruning& prune, chunk_writes&& chunks) {
  try {
    for (const auto& [key_id, key] : keys.added()) w.add_name(key_id, key);
    w.next_key_id = keys.next_key_id();
    w.newest_created = record.created_unix_nanos;
    w.format = chunks.format;
    w.chunks.apply(std::move(chunks.step));
    w.next_chunk_id = chunks.next_chunk_id;
    w.converted.clear();
    w.sweep.clear();
    w.kept_places_loaded = false;
    w.kept_places.clear();
    apply_step(w.chain, change.change, record.entries.size(), prune.step);
    if (!w.intact && change.whole) {  // what the records said before is unknown: take the new snapshot as it is
      w.chain.current.assign(*change.whole);
      w.chain.total_bytes = record.total_bytes;
    }
    const std::vector<std::uint64_t>& dropped = prune.step.drop_records;
    if (!w.intact && std::all_of(w.damaged.begin(), w.damaged.end(), [&](std::uint64_t d) {
          return std::binary_search(dropped.begin(), dropped.end(), d);
        })) {
      state_.reset();  // the damaged records are gone: load (and sweep) next time
    }
  } catch (...) {
    state_.reset();
  }
}

}  // namespace instadump::storage

// Reading snapshot records of either format (see record_io.h).
#include "storage/record_io.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>

#include "common/errors.h"
#include "storage/error_advice.h"
#include "storage/lmdb_env.h"
#include "storage/manifest_codec.h"

namespace instadump::storage {
namespace {

using lmdb::check;
using lmdb::text_key;

// Format 1 kept every stored manifest as a snapshot; each becomes a full
// record, so every snapshot stays readable on its own (as it was).
void convert_format1(MDB_txn* txn, const store_dbis& dbis, const std::filesystem::path& dir, stored_chain& chain) {
  std::vector<std::pair<std::uint64_t, std::optional<snapshot_info>>> manifests;
  std::vector<std::string> damage;
  lmdb::for_each_record(txn, dbis.snapshots, false, [&](const MDB_val& k, const MDB_val& v) {
    const std::uint64_t id = lmdb::decode_id_key(k);
    try {
      manifests.emplace_back(id, decode_manifest(lmdb::bytes_of(v), "the manifest of " + snapshot_name(id, dir)));
      damage.emplace_back();
    } catch (const corrupt_data& e) {
      manifests.emplace_back(id, std::nullopt);
      damage.emplace_back(e.what());
    }
  });
  std::set<std::string> all_names;
  for (const auto& [id, m] : manifests) {
    if (!m) continue;
    for (const entry_info& e : m->entries) all_names.insert(e.key);
  }
  std::unordered_map<std::string, std::uint64_t> ids;
  for (const std::string& name : all_names) {
    ids.emplace(name, chain.next_key_id);
    chain.names.emplace(chain.next_key_id++, name);
  }
  for (std::size_t i = 0; i < manifests.size(); ++i) {
    const auto& [id, m] = manifests[i];
    chain_link link;
    link.id = id;
    if (!m) {
      link.damage = damage[i];
      chain.links.push_back(std::move(link));
      continue;
    }
    snapshot_record r;
    r.id = id;
    r.created_unix_nanos = m->created_unix_nanos;
    r.full = true;
    for (const entry_info& e : m->entries) {
      stored_value v;
      v.key_id = ids.at(e.key);
      v.ref = e.size_bytes == 0 ? value_ref{} : value_ref{e.blob_id, 0, e.size_bytes};
      v.checksum = e.checksum;
      v.schema = e.schema;
      v.framed = true;
      r.entries.push_back(v);
    }
    r.value_count = r.entries.size();
    r.total_bytes = m->total_bytes;
    link.record = std::move(r);
    chain.links.push_back(std::move(link));
  }
  chain.oldest = chain.links.empty() ? 0 : chain.links.front().id;
}

}  // namespace

std::int64_t now_unix_nanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string snapshot_name(std::uint64_t id, const std::filesystem::path& dir) {
  return "snapshot " + std::to_string(id) + " in " + dir.string();
}

std::string snapshots_name(std::uint64_t first, std::uint64_t last, const std::filesystem::path& dir) {
  if (first == last) return snapshot_name(first, dir);
  return "snapshots " + std::to_string(first) + " to " + std::to_string(last) + " in " + dir.string();
}

std::uint64_t read_counter(MDB_txn* txn, MDB_dbi dbi, const char* key, std::uint64_t missing) {
  MDB_val k = text_key(key), v;
  const int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return missing;
  check(rc, "mdb_get (counter)");
  return lmdb::decode_id_key(v);
}

void write_counter(MDB_txn* txn, MDB_dbi dbi, const char* key, std::uint64_t value) {
  MDB_val k = text_key(key);
  lmdb::id_key encoded(value);
  MDB_val v = encoded.val();
  check(mdb_put(txn, dbi, &k, &v, 0), "mdb_put (counter)");
}

std::vector<std::uint64_t> stored_chain::kept_ids() const {
  std::vector<std::uint64_t> ids;
  for (auto it = links.rbegin(); it != links.rend() && it->id >= oldest; ++it) ids.push_back(it->id);
  return ids;
}

std::uint32_t read_format(MDB_txn* txn, const store_dbis& dbis, const std::filesystem::path& dir) {
  MDB_val k = text_key(kMetaStoreKey), v;
  const int rc = mdb_get(txn, dbis.meta, &k, &v);
  if (rc == MDB_NOTFOUND) {
    throw corrupt_data("instadump: the store in " + dir.string() + " has lost its meta record; it is damaged");
  }
  check(rc, "mdb_get (meta)");
  return decode_store_meta(lmdb::bytes_of(v), "the meta record of " + dir.string()).format_version;
}

std::int64_t read_store_created(MDB_txn* txn, const store_dbis& dbis, const std::filesystem::path& dir) {
  MDB_val k = text_key(kMetaStoreKey), v;
  check(mdb_get(txn, dbis.meta, &k, &v), "mdb_get (meta)");
  return decode_store_meta(lmdb::bytes_of(v), "the meta record of " + dir.string()).created_unix_nanos;
}

stored_chain read_chain(MDB_txn* txn, const store_dbis& dbis, const std::filesystem::path& dir) {
  stored_chain chain;
  chain.format = read_format(txn, dbis, dir);
  if (chain.format == 1) {
    convert_format1(txn, dbis, dir, chain);
    return chain;
  }
  lmdb::for_each_record(txn, dbis.snapshots, false, [&](const MDB_val& k, const MDB_val& v) {
    chain_link link;
    link.id = lmdb::decode_id_key(k);
    try {
      link.record = decode_record(lmdb::bytes_of(v), "the record of " + snapshot_name(link.id, dir));
      if (link.record->id != link.id) {
        throw corrupt_data("instadump: the record stored as " + snapshot_name(link.id, dir) + " says it is snapshot " +
                           std::to_string(link.record->id) + "; the store is damaged");
      }
    } catch (const corrupt_data& e) {
      link.record.reset();
      link.damage = e.what();
    }
    chain.links.push_back(std::move(link));
  });
  chain.oldest = read_counter(txn, dbis.meta, kMetaOldestKey, chain.links.empty() ? 0 : chain.links.front().id);
  if (dbis.keys != 0) {
    lmdb::for_each_record(txn, dbis.keys, false, [&](const MDB_val& k, const MDB_val& v) {
      chain.names.emplace(lmdb::decode_id_key(k), std::string(static_cast<const char*>(v.mv_data), v.mv_size));
    });
  }
  chain.next_key_id = read_counter(txn, dbis.meta, kMetaNextKeyIdKey, 1);
  return chain;
}

snapshot_view view_of(const stored_chain& chain, std::uint64_t id, const std::filesystem::path& dir) {
  const std::string name = snapshot_name(id, dir);
  auto at = std::find_if(chain.links.begin(), chain.links.end(), [&](const chain_link& l) { return l.id == id; });
  if (at == chain.links.end() || id < chain.oldest) {
    throw load_failed("instadump: there is no " + name +
                      " (it was never written or has been pruned); " + advice::stored_snapshots);
  }
  // Back to the newest full record at or before `id`...
  auto start = at;
  for (;; --start) {
    if (!start->record) {
      throw corrupt_data("instadump: " + name + " cannot be read: " + start->damage);
    }
    if (start->record->full) break;
    if (start == chain.links.begin() || std::prev(start)->id + 1 != start->id) {
      throw corrupt_data("instadump: " + name + " cannot be read: the records before it are missing; the store is damaged");
    }
  }
  // ... then forward through the changes.
  snapshot_view view;
  for (auto it = start;; ++it) {
    apply_record(view, *it->record, "the record of " + snapshot_name(it->id, dir));
    if (it == at) break;
  }
  return view;
}

snapshot_info info_of(const stored_chain& chain, std::uint64_t id, const snapshot_view& view,
                      const std::filesystem::path& dir, bool by_name) {
  snapshot_info info;
  info.id = id;
  for (const chain_link& l : chain.links) {
    if (l.id == id && l.record) info.created_unix_nanos = l.record->created_unix_nanos;
  }
  // In name order: sort (name, value) pointers, then build the entries once.
  std::vector<std::pair<const std::string*, const stored_value*>> order;
  order.reserve(view.size());
  for (const stored_value& v : view) {
    auto name = chain.names.find(v.key_id);
    if (name == chain.names.end()) {
      throw corrupt_data("instadump: " + snapshot_name(id, dir) + " has a value under key id " +
                         std::to_string(v.key_id) + ", which has no name in the key table; the store is damaged");
    }
    order.emplace_back(&name->second, &v);
  }
  if (by_name) std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return *a.first < *b.first; });
  info.entries.reserve(view.size());
  for (const auto& [name, v] : order) {
    info.entries.push_back(entry_info{*name, v->schema, v->ref.blob_id, v->ref.size, v->checksum, v->ref.offset,
                                      v->framed, chain.format == 1 ? 0 : v->key_id, v->chunk_roots.to_vector()});
    info.total_bytes += v->ref.size;
  }
  return info;
}

}  // namespace instadump::storage

// Loading the writer's state from the records on disk, and looking up the
// values kept snapshots have (see writer_state.h).
#include "storage/writer_state.h"

#include <algorithm>

#include "common/errors.h"
#include "storage/chunk_format.h"
#include "storage/layout_rules.h"
#include "storage/lmdb_env.h"

namespace instadump::storage {
namespace {

// Every stored chunk, as its header lists it (a chunk whose header is cut
// short lists no children: once nothing refers to it, it goes, and its
// children with the next open, as orphans). Sets `next_chunk_id` past the
// largest id.
void load_chunks(MDB_txn* txn, const store_dbis& dbis, writer_state& w) {
  w.next_chunk_id = std::max<std::uint64_t>(read_counter(txn, dbis.meta, kMetaNextChunkKey, 1), 1);
  if (dbis.chunks == 0) return;
  chunk_header header;
  lmdb::for_each_record(txn, dbis.chunks, false, [&](const MDB_val& k, const MDB_val& v) {
    const std::uint64_t id = lmdb::decode_id_key(k);
    if (!read_chunk_header(lmdb::bytes_of(v), header) || header.id != id) header.children.clear();
    w.chunks.add_stored(chunk_links{id, std::move(header.children)});
    w.next_chunk_id = std::max(w.next_chunk_id, id + 1);
  });
}

// The chunk roots of every live value interval: the newest snapshot's
// values and those superseded since the oldest kept snapshot.
void count_roots(writer_state& w) {
  for (const stored_value& v : w.chain.current) w.chunks.add_roots(v.chunk_roots.ids());
  for (const auto& [id, superseded] : w.chain.pending) {
    for (const stored_value& v : superseded) w.chunks.add_roots(v.chunk_roots.ids());
  }
}

}  // namespace

std::unique_ptr<writer_state> writer_state::load(MDB_txn* txn, const store_dbis& dbis,
                                                 const std::filesystem::path& dir) {
  auto w = std::make_unique<writer_state>();
  stored_chain chain = read_chain(txn, dbis, dir);
  w->format = chain.format;
  w->next_key_id = chain.next_key_id;
  for (const auto& [id, name] : chain.names) w->add_name(id, name);

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
  load_chunks(txn, dbis, *w);
  if (!w->intact) {
    // Nothing can be trusted about which bytes are live: the next record is
    // written full, and nothing is reclaimed (see intact).
    w->chunks.finish_loading(false);
    w->chain = chain_state{};
    for (const chain_link& link : chain.links) {
      w->chain.records.emplace_back(link.id, link.record && link.record->full);
    }
    w->chain.newest = chain.newest();
    w->chain.oldest = chain.oldest;
    return w;
  }
  // Bytes and chunks nothing kept refers to (a damaged record's, pruned
  // since) go with the next write.
  count_roots(*w);
  w->chunks.finish_loading(true);
  lmdb::for_each_record(txn, dbis.blobs, false, [&](const MDB_val& k, const MDB_val&) {
    const std::uint64_t blob = lmdb::decode_id_key(k);
    if (w->chain.live.in_blob(blob) == 0) w->sweep.push_back(blob);
  });
  return w;
}

const stored_value* writer_state::find_kept(MDB_txn* txn, const store_dbis& dbis, const std::filesystem::path& dir,
                                            std::uint64_t key_id, const kept_value& kept) {
  if (const stored_value* cur = chain.current.find(key_id);
      cur && cur->ref.blob_id == kept.blob_id && cur->ref.offset == kept.offset) {
    return cur;
  }
  if (!kept_places_loaded) {
    kept_places.clear();
    const stored_chain stored = read_chain(txn, dbis, dir);
    for (std::uint64_t id : stored.kept_ids()) {
      for (const stored_value& v : view_of(stored, id, dir)) {
        if (v.ref.size != 0) kept_places.emplace(std::pair{v.ref.blob_id, v.ref.offset}, v);
      }
    }
    kept_places_loaded = true;
  }
  auto it = kept_places.find({kept.blob_id, kept.offset});
  return it == kept_places.end() ? nullptr : &it->second;
}

void writer_state::add_name(std::uint64_t id, std::string_view name) {
  key_ids.emplace(std::string(name), id);
  if (id < kIndexedKeyIds) {
    if (names.size() <= id) names.resize(id + 1);
    names[id] = name;
  }
}

}  // namespace instadump::storage

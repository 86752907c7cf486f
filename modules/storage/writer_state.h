// What the writer knows about the records on disk, kept in memory between
// writes so that a save does not read the whole chain again: the newest
// snapshot's values, which stored values some kept snapshot still has
// (counted per blob), the key table, the stored chunks and their reference
// counts, and whether the records can be trusted.
//
// Loaded from the records when the first write needs it, changed by each
// write once it has committed (lmdb_writer.cpp), and dropped -- to be loaded
// again -- whenever that cannot be done safely.
//
// Internal to instadump_storage. Not thread-safe: lmdb_writer guards it.
#pragma once

#include <lmdb.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "storage/chunk_ledger.h"
#include "storage/name_map.h"
#include "storage/record_codec.h"
#include "storage/record_io.h"
#include "storage/snapshot_chain.h"
#include "storage/snapshot_types.h"

namespace instadump::storage {

// A stored value's place, (blob id, offset), as a hash key.
struct place_hash {
  std::size_t operator()(const std::pair<std::uint64_t, std::uint64_t>& p) const noexcept {
    return std::hash<std::uint64_t>()(p.first * 0x9E3779B97F4A7C15ull ^ p.second);
  }
};

struct writer_state {
  // Reads the state from the records and the chunks' headers in `txn` (any
  // transaction). Records that do not decode leave it not `intact`. Throws
  // lmdb_failure and corrupt_data (a damaged meta record or key table).
  static std::unique_ptr<writer_state> load(MDB_txn* txn, const store_dbis& dbis, const std::filesystem::path& dir);

  // The stored value a kept_value (of key `key_id`) refers to, or nullptr:
  // normally the newest snapshot's value of the same key; otherwise (a value
  // put back from an older snapshot, or moved to another key) looked up
  // among all kept snapshots' values, which are read from `txn` once per
  // write that needs them (kept_places).
  const stored_value* find_kept(MDB_txn* txn, const store_dbis& dbis, const std::filesystem::path& dir,
                                std::uint64_t key_id, const kept_value& kept);

  // Remembers that key id `id` names `name`.
  void add_name(std::uint64_t id, std::string_view name);

  chain_state chain;
  // createdUnixNanos of the newest snapshot (0 when there is none, or its
  // record is damaged).
  std::int64_t newest_created = 0;
  // Every record on disk decoded and they form a chain. When not, the next
  // records are written full and nothing is reclaimed until the damaged ones
  // are pruned (the state is then loaded again, see lmdb_writer.cpp).
  bool intact = true;
  std::vector<std::uint64_t> damaged;  // ids of records that do not decode
  // The store's format. 1 while the store is still in format 1: the next
  // write converts it, writing these records (the manifests as format 2
  // would have written them) and the key table (key_ids) along with the new
  // snapshot.
  std::uint32_t format = format_version_without_chunks;
  std::vector<snapshot_record> converted;
  name_map<std::uint64_t> key_ids;  // name -> key id
  std::vector<std::string> names;   // key id -> name ("" for unused ids; ids below kIndexedKeyIds)
  std::uint64_t next_key_id = 1;
  // Blobs on disk that no kept snapshot has values in (left by damaged
  // records or an interrupted format conversion): deleted by the next write.
  std::vector<std::uint64_t> sweep;
  // The stored chunks and their reference counts (the counts of roots are
  // meaningless while not `intact`: nothing is reclaimed then), and the
  // next free chunk id (never below the largest stored id + 1).
  chunk_ledger chunks;
  std::uint64_t next_chunk_id = 1;
  // Every value some kept snapshot has, by place: loaded on demand (see
  // find_kept) and dropped after each write.
  bool kept_places_loaded = false;
  std::unordered_map<std::pair<std::uint64_t, std::uint64_t>, stored_value, place_hash> kept_places;
};

}  // namespace instadump::storage

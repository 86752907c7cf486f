// What the writing snapshot_store knows about the records on disk, kept
// between writes so that a save does not read the whole chain again.
//
// Internal to instadump_storage (snapshot_store.cpp and snapshot_writer.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "storage/record_codec.h"
#include "storage/name_map.h"
#include "storage/record_io.h"
#include "storage/snapshot_chain.h"
#include "storage/snapshot_store.h"

namespace instadump::storage {

struct snapshot_store::dbis : store_dbis {};

// Thrown by write_once (nothing written) when a value filled in place needs
// more room; write_snapshot makes the room and writes again.
struct room_needed {
  std::size_t index;  // in delta.put
  std::size_t bytes;
};

struct snapshot_store::writer_state {
  chain_state chain;
  // createdUnixNanos of the newest snapshot (0 when there is none, or its
  // record is damaged).
  std::int64_t newest_created = 0;
  // Every record on disk decoded and they form a chain. When not, the next
  // records are written full and nothing is reclaimed until the damaged ones
  // are pruned (the state is then loaded again, see snapshot_writer.cpp).
  bool intact = true;
  std::vector<std::uint64_t> damaged;  // ids of records that do not decode
  // 1 while the store is still in format 1: the next write converts it,
  // writing these records (the manifests as format 2 would have written
  // them) and the key table (key_ids) along with the new snapshot.
  std::uint32_t format = format_version;
  std::vector<snapshot_record> converted;
  name_map<std::uint64_t> key_ids;  // name -> key id
  std::vector<std::string> names;                           // key id -> name ("" for unused ids)
  std::uint64_t next_key_id = 1;
  // Blobs on disk that no kept snapshot has values in (left by damaged
  // records or an interrupted format conversion): deleted by the next write.
  std::vector<std::uint64_t> sweep;
  // Every value some kept snapshot has, by place: loaded on demand (see
  // snapshot_store::find_kept) and dropped after each write.
  struct place_hash {
    std::size_t operator()(const std::pair<std::uint64_t, std::uint64_t>& p) const noexcept {
      return std::hash<std::uint64_t>()(p.first * 0x9E3779B97F4A7C15ull ^ p.second);
    }
  };
  bool kept_places_loaded = false;
  std::unordered_map<std::pair<std::uint64_t, std::uint64_t>, stored_value, place_hash> kept_places;
};

}  // namespace instadump::storage

// Reading a store's snapshot records out of an LMDB transaction, for both
// on-disk formats: format 2 records as they are, format 1 manifests converted
// to the records format 2 would have written for them (each one full). The
// snapshot store's reads and its writer both start here.
//
// Internal to instadump_storage.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "storage/record_codec.h"
#include "storage/snapshot_chain.h"

namespace instadump::storage {

// The store's named databases. keys is 0 when the store has none (format
// 1), chunks when it has none (a store no build of format 4 has written to,
// opened read-only).
struct store_dbis {
  MDB_dbi meta = 0, snapshots = 0, blobs = 0, schemas = 0, keys = 0, chunks = 0;
};

// Keys of the "meta" database.
inline constexpr const char* kMetaStoreKey = "store";
inline constexpr const char* kMetaNextBlobKey = "next_blob_id";
inline constexpr const char* kMetaNextKeyIdKey = "next_key_id";
inline constexpr const char* kMetaOldestKey = "oldest_snapshot";
inline constexpr const char* kMetaNextChunkKey = "next_chunk_id";

std::uint64_t read_counter(MDB_txn* txn, MDB_dbi dbi, const char* key, std::uint64_t missing);
void write_counter(MDB_txn* txn, MDB_dbi dbi, const char* key, std::uint64_t value);

// One record on disk: its id, and the record or why it does not decode.
struct chain_link {
  std::uint64_t id = 0;
  std::optional<snapshot_record> record;
  std::string damage;  // set when record is empty
};

// Everything a reader or the writer needs to know about the stored snapshots.
struct stored_chain {
  std::uint32_t format = 0;
  std::vector<chain_link> links;  // every record on disk, oldest first
  std::uint64_t oldest = 0;       // oldest kept snapshot (0: none)
  std::unordered_map<std::uint64_t, std::string> names;  // key id -> name
  // Format 1 only: the key ids given to the manifests' names, and the next free.
  std::uint64_t next_key_id = 1;

  std::uint64_t newest() const { return links.empty() ? 0 : links.back().id; }
  // Ids of the kept snapshots, newest first.
  std::vector<std::uint64_t> kept_ids() const;
};

// Reads the store's format from its meta record. Throws corrupt_data.
std::uint32_t read_format(MDB_txn* txn, const store_dbis& dbis, const std::filesystem::path& dir);

// Reads the store's creation time (StoreMeta.createdUnixNanos) from its
// meta record. Throws corrupt_data and lmdb failures.
std::int64_t read_store_created(MDB_txn* txn, const store_dbis& dbis, const std::filesystem::path& dir);

// Reads every record (format 2) or manifest (format 1, converted) in `txn`.
// Records that do not decode are kept as links with `damage` set. Throws
// lmdb failures and corrupt_data for a damaged meta record or key table.
stored_chain read_chain(MDB_txn* txn, const store_dbis& dbis, const std::filesystem::path& dir);

// The view of snapshot `id`: replays the records from the newest full one at
// or before it. Throws load_failed when `id` is not a kept snapshot and
// corrupt_data (naming the snapshot) when a record it needs is damaged.
snapshot_view view_of(const stored_chain& chain, std::uint64_t id, const std::filesystem::path& dir);

// The snapshot_info of snapshot `id` from its view: entries sorted by name,
// or (by_name false) in the view's order, which is cheaper. Throws
// corrupt_data when a key id has no name.
snapshot_info info_of(const stored_chain& chain, std::uint64_t id, const snapshot_view& view,
                      const std::filesystem::path& dir, bool by_name = true);

// Wall-clock time for the records' createdUnixNanos.
std::int64_t now_unix_nanos();

// "snapshot N in DIR", as errors name snapshots.
std::string snapshot_name(std::uint64_t id, const std::filesystem::path& dir);
// "snapshots N to M in DIR" (or snapshot_name(N) when M is N).
std::string snapshots_name(std::uint64_t first, std::uint64_t last, const std::filesystem::path& dir);

}  // namespace instadump::storage

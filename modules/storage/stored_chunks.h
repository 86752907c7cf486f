// Reading stored chunks out of an LMDB read transaction: the chunk_source a
// read_snapshot() visitor gets (snapshot_store.h), and the size of the
// "chunks" database for store_stats.
//
// Internal to instadump_storage.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "storage/snapshot_store.h"

namespace instadump::storage {

// The chunks of `dbi` (0: the store has no chunks database) in `txn`, for the
// visit of one value at a time of `snapshot` (its name in errors, e.g.
// "snapshot 3 in /db"), and the chunks `journaled` (by id, 8-byte aligned;
// null: none) a read-only store sees in the journal (journal_overlay.h),
// looked up first. REQUIRES: the transaction, `snapshot` and `journaled`
// outlive it.
class stored_chunk_source final : public chunk_source {
 public:
  using chunk_map = std::unordered_map<std::uint64_t, std::span<const std::byte>>;

  stored_chunk_source(MDB_txn* txn, MDB_dbi dbi, const std::string& snapshot, const chunk_map* journaled = nullptr)
      : txn_(txn), dbi_(dbi), snapshot_(snapshot), journaled_(journaled) {}

  // The value being visited is `key` (named in errors; it must outlive the
  // visit). Frees the copies made for the value visited before.
  void visiting(const std::string& key);

  chunk_view get(std::uint64_t id) const override;

 private:
  // The bytes of chunk `id` in data.mdb, 8-byte aligned.
  std::span<const std::byte> stored(std::uint64_t id) const;

  MDB_txn* const txn_;
  const MDB_dbi dbi_;
  const std::string& snapshot_;
  const chunk_map* const journaled_;
  const std::string* key_ = nullptr;
  // Aligned copies of chunks whose stored bytes are not 8-byte aligned.
  mutable std::vector<std::unique_ptr<std::uint64_t[]>> copies_;
};

// Number and total size of the stored chunks in `dbi` (0: none).
struct chunk_totals {
  std::uint64_t count = 0;
  std::uint64_t bytes = 0;
};
chunk_totals stored_chunk_totals(MDB_txn* txn, MDB_dbi dbi);

}  // namespace instadump::storage

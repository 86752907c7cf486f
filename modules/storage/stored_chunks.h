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
//
// Chunks are read through one cursor: a collection's loading asks for runs
// of consecutive ids (a branch's leaves were written one after the other),
// which are the cursor's next records, and for ids on the page it is on,
// which LMDB finds without searching the tree from its root.
class stored_chunk_source final : public chunk_source {
 public:
  using chunk_map = std::unordered_map<std::uint64_t, std::span<const std::byte>>;

  stored_chunk_source(MDB_txn* txn, MDB_dbi dbi, const std::string& snapshot, const chunk_map* journaled = nullptr)
      : txn_(txn), dbi_(dbi), snapshot_(snapshot), journaled_(journaled) {}
  ~stored_chunk_source() override;
  stored_chunk_source(const stored_chunk_source&) = delete;
  stored_chunk_source& operator=(const stored_chunk_source&) = delete;

  // The value being visited is `key` (named in errors; it must outlive the
  // visit). Frees the copies made for the value visited before.
  void visiting(const std::string& key);

  chunk_view get(std::uint64_t id) const override;

 private:
  // The bytes of chunk `id` in data.mdb, 8-byte aligned.
  std::span<const std::byte> stored(std::uint64_t id) const;
  // Chunk `id`'s record: MDB_NOTFOUND if there is none, else mdb_cursor_get's code.
  int find(std::uint64_t id, MDB_val& value) const;

  MDB_txn* const txn_;
  const MDB_dbi dbi_;
  const std::string& snapshot_;
  const chunk_map* const journaled_;
  const std::string* key_ = nullptr;
  // Aligned copies of chunks whose stored bytes are not 8-byte aligned.
  mutable std::vector<std::unique_ptr<std::uint64_t[]>> copies_;
  // Opened at the first chunk read from data.mdb; on chunk `at_` (when not 0).
  mutable MDB_cursor* cursor_ = nullptr;
  mutable std::uint64_t at_ = 0;
};

// Number and total size of the stored chunks in `dbi` (0: none).
struct chunk_totals {
  std::uint64_t count = 0;
  std::uint64_t bytes = 0;
};
chunk_totals stored_chunk_totals(MDB_txn* txn, MDB_dbi dbi);

}  // namespace instadump::storage

// What a read-only store sees in the journal: the snapshots the writer
// journaled that data.mdb does not hold yet, as they continue the newest
// snapshot of one LMDB read transaction. A read-only open must not write
// data.mdb (the writer's applier does that), so each read takes its read
// transaction, then reads <dir>/journal.log whole and keeps the intact frames
// that continue that transaction's newest snapshot (checked as a writable
// open checks them, journal_recovery.h); the snapshots in them are laid over
// data.mdb's in memory: their records join the chain, their value bytes and
// chunks are looked up here before data.mdb. Nothing is locked or written.
//
// The writer may start the journal over between the two reads (it writes
// what was journaled into data.mdb, commits, then overwrites the file from
// its start). Frames that no longer continue the transaction's snapshot are
// then told apart from a damaged journal by whether data.mdb committed
// meanwhile: if it did, read() throws journal_moved and the caller reads
// again with a new transaction; if it did not, the journal is damaged.
//
// Internal to instadump_storage.
#pragma once

#include <lmdb.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "storage/journal_codec.h"
#include "storage/record_io.h"

namespace instadump::storage {

// journal_overlay::read() saw the writer start the journal over: read again.
struct journal_moved {};

class journal_overlay {
 public:
  // Nothing journaled: what a writable store's reads see (they first write
  // the journal into data.mdb).
  journal_overlay() = default;

  // The journaled snapshots that continue the newest snapshot `txn` sees in
  // the store in `dir`. Throws journal_moved (see the file comment);
  // corrupt_data naming journal.log when a frame is damaged (intact frames
  // follow it), or the frames do not continue data.mdb although it has not
  // changed; load_failed when journal.log cannot be read.
  static journal_overlay read(MDB_txn* txn, const store_dbis& dbis, const std::filesystem::path& dir);

  bool empty() const noexcept { return entries_.empty(); }
  // The journaled snapshots, oldest first.
  const std::vector<journal_entry>& entries() const noexcept { return entries_; }

  // Appends the journaled snapshots to `chain` (the one read in the same
  // transaction) as records, and the names of the keys they add.
  void extend(stored_chain& chain) const;

  // The bytes of blob `id` when a journaled snapshot holds it.
  std::optional<std::span<const std::byte>> blob(std::uint64_t id) const;
  // The journaled chunks, by id (8-byte aligned, unchecked).
  const std::unordered_map<std::uint64_t, std::span<const std::byte>>& chunks() const noexcept { return chunks_; }
  // The schema the newest journaled snapshot that stores `fingerprint` has.
  const schema_record* schema(std::uint64_t fingerprint) const;
  // The bytes of the journaled snapshots' new values.
  std::uint64_t value_bytes() const noexcept;

 private:
  std::vector<journal_entry> entries_;  // their spans point into payloads_
  std::vector<std::vector<std::uint64_t>> payloads_;
  std::vector<std::vector<std::uint64_t>> checksums_;  // of entries_[i].values
  std::unordered_map<std::uint64_t, std::span<const std::byte>> chunks_;
};

}  // namespace instadump::storage

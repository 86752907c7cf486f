// What a read-only store sees in the journal: the snapshots the writer
// journaled that data.mdb does not hold yet, as they continue the newest
// snapshot of one LMDB read transaction. A read-only open must not write
// data.mdb (the writer's applier does that), so each read reads
// <dir>/journal.log, then takes its read transaction and keeps the intact
// frames that continue that transaction's newest snapshot (checked as a writable
// open checks them, journal_recovery.h); the snapshots in them are laid over
// data.mdb's in memory: their records join the chain, their value bytes and
// chunks are looked up here before data.mdb. Nothing is locked or written.
//
// The writer moves frames while it runs: once a snapshot is in data.mdb, its
// frame may be overwritten (the writer starts the journal over after each
// commit that left nothing pending, and reuses a half whose frames are all
// in data.mdb). So the journal is read first and the read transaction begun
// after it: every snapshot that transaction does not have yet was not in
// data.mdb while the file was read, so its frame could not be overwritten,
// and the frames read continue the transaction's snapshot however often
// the writer committed meanwhile. (Reading in the other order, a writer
// that commits more often than a slow reader reads the journal starves it.)
// The frames fail to continue only when the writer went on into the other
// half during the read (the rest of a half written meanwhile), or the
// journal is damaged: the two are told apart by
// whether data.mdb committed meanwhile and by reading again.
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
#include "storage/journal_file.h"
#include "storage/record_io.h"

namespace instadump::storage {

// journal.log as read before the read transaction it is laid over.
struct journal_read {
  std::uint64_t data_txn = 0;  // data.mdb's newest commit when the file was read
  journal_contents contents;   // the frames newer than data.mdb's snapshot then
  bool skipped = false;        // not read: the store had format 1 (nothing journaled)
  bool used = false;           // over() took the frames' payloads
};

// journal_overlay::over() found frames that do not continue the
// transaction's snapshot, or a damaged frame, which a writer moving frames
// during the read explains: read the journal and the store again.
struct journal_moved {
  bool writer_committed;  // data.mdb committed while the journal was read
};

class journal_overlay {
 public:
  // Nothing journaled: what a writable store's reads see (they first write
  // the journal into data.mdb).
  journal_overlay() = default;

  // Reads the journal of the store in `dir` for a read transaction begun
  // after this returns; `txn`, begun just before, tells which frames
  // data.mdb already has. Throws load_failed when journal.log cannot be read.
  static journal_read read_file(MDB_txn* txn, const store_dbis& dbis, const std::filesystem::path& dir);

  // The journaled snapshots in `read` that continue the newest snapshot
  // `txn` sees (begun after `read` was taken; see the file comment). When
  // the frames do not continue it or one is damaged (intact frames follow
  // it): throws journal_moved, or, with `report_damage` and data.mdb
  // unchanged since `read`, corrupt_data naming journal.log.
  static journal_overlay over(MDB_txn* txn, const store_dbis& dbis, const std::filesystem::path& dir,
                              journal_read& read, bool report_damage);

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

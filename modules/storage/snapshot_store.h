// The on-disk snapshot store: numbered snapshots of named values, kept in one
// LMDB environment per directory.
//
// A snapshot maps value names to their bytes. Each snapshot is stored as the
// change from the one before (format 2, docs/FORMAT.md): a small record of
// the values that changed plus blobs holding their new bytes, so a save
// costs what changed, not the whole state. Values unchanged since an earlier
// snapshot are referenced instead of rewritten (kept_value). write_snapshot()
// keeps the newest `keep_generations` snapshots and deletes bytes none of
// them has any more.
//
// LMDB layout (docs/FORMAT.md has the full description and the evolution
// rules): named databases
//   "meta"      "store"           -> StoreMeta message (magic, format version)
//               "next_blob_id", "next_key_id", "oldest_snapshot",
//               "next_chunk_id" -> 8-byte big-endian
//   "snapshots" 8-byte BE id      -> SnapshotRecord message (packed)
//   "blobs"     8-byte BE id      -> the bytes of the values saved together
//   "keys"      8-byte BE key id  -> a value name
//   "schemas"   8-byte BE fingerprint -> schema bytes (opaque to the store)
//   "chunks"    8-byte BE id      -> one chunk (chunk_format.h)
// Keys are short fixed-size ids, so LMDB's 511-byte key limit never applies
// to value names, however long. Stores of format 1 (one full manifest per
// snapshot) are read as they are and converted by their first write.
//
// The journal (format 3, store_options::journal): a small snapshot is first
// appended to <dir>/journal.log with one flush, and write_snapshot returns;
// a background thread then writes it into data.mdb (several at once, with
// one durable LMDB commit) and the journal starts over once all are in.
// Reads of this store first bring data.mdb up to date, so they always see
// every snapshot written. A read-only open, which must not write, reads the
// journal beside data.mdb instead (journal_overlay.h): it sees the snapshots
// the writer journaled in the last few milliseconds, and those a crashed
// writer left in its journal, whole, without blocking the writer. It lists
// every journaled snapshot beside data.mdb's kept ones (the writer prunes
// the older ones once they are in data.mdb).
//
// Chunks (format 4): a value may refer to chunks -- the nodes of the
// persistent collections in it -- which are stored once, shared by every
// kept snapshot that reaches them, and deleted (in the same transaction as
// the write that makes it so) once none does. A save writes only the chunks
// that are new (snapshot_delta::chunks, new_value::chunk_roots); reads hand
// them out through a chunk_source.
//
// Processes: one writer per directory (enforced with a flock on
// <dir>/instadump.lock); any number of read-only opens next to it. Do not use
// a store on a network filesystem (LMDB's locking needs a local one), and do
// not use a store in a child after fork(): open it again in the child.
#pragma once

#include "instadump/capnp_compat.h"  // before any Cap'n Proto header

#include <capnp/common.h>
#include <capnp/message.h>
#include <kj/common.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "storage/chunk_format.h"
#include "storage/manifest_codec.h"  // reader_options_for
#include "storage/snapshot_types.h"

namespace instadump::storage {

// The chunks of the snapshot being read, for a read_snapshot() visitor.
class chunk_source {
 public:
  virtual ~chunk_source() = default;
  // Chunk `id`, verified (checksum, size, id; see parse_chunk), read in the
  // same transaction as the values: its payload 8-byte aligned (copied when
  // the store's copy is not), valid until the visit of the value returns.
  // Throws corrupt_data naming the chunk and the value being visited when
  // the chunk is missing or damaged.
  virtual chunk_view get(std::uint64_t id) const = 0;
};

class snapshot_store {
 public:
  // Opens the store in `dir`.
  //
  // Writable (options.read_only == false): creates `dir` (mode 0700) if it is
  // missing, takes the single-writer lock and, for an empty directory, writes
  // a fresh store (files mode 0600). Read-only: the store must already exist;
  // no lock is taken and nothing is written.
  //
  // A writable open first writes into data.mdb the snapshots a crashed
  // writer left in the journal (throwing open_failed, with nothing changed,
  // when they cannot be written, or when the journal does not belong to
  // data.mdb: data.mdb replaced by another copy, or the journal written by a
  // newer build).
  //
  // Throws locked_by_other_process when another process has `dir` open for
  // writing, and open_failed when this process already has `dir` open (LMDB
  // cannot open one environment twice in a process: share the store), `dir`
  // is not a directory or cannot be created, is not
  // writable (writable opens), holds a data.mdb that is not LMDB, is an LMDB
  // environment that is not an Instadump store, or was written by a newer
  // format version. Throws invalid_option, naming the option, when
  // keep_generations is 0, initial_map_size is 0 or (with a journal)
  // journal_bytes is below 64 KiB. Releases reader slots left by crashed
  // processes (see stats().stale_readers_cleared). Thread-safe.
  static std::unique_ptr<snapshot_store> open(const std::filesystem::path& dir, const store_options& options);

  // Writes journaled snapshots into data.mdb (when that fails they stay in
  // the journal, and the next writable open writes them), closes the
  // environment and releases the writer lock. Must not run while another
  // thread uses the store.
  ~snapshot_store();
  snapshot_store(const snapshot_store&) = delete;
  snapshot_store& operator=(const snapshot_store&) = delete;

  // The id the new chunks of the next write start at (snapshot_delta::
  // chunks): ids are unique and never reused; a write advances it past its
  // largest. Between this call and the write that uses it, no other write
  // may store chunks (the write then fails with save_failed). Throws
  // load_failed when the store cannot be read. Thread-safe.
  std::uint64_t next_chunk_id() const;

  // Writes a new snapshot made of `values` in one LMDB write transaction,
  // stores `schemas` (replacing records with the same fingerprint), then drops
  // snapshots beyond keep_generations and the bytes no kept snapshot has, in
  // the same transaction: either all of it happens or none. The new values'
  // bytes are written by their fill() straight into LMDB's pages (small ones
  // side by side in one blob, large ones in blobs of their own); values equal to the newest snapshot's (same key, same
  // place, same schema) cost nothing.
  // When the map is full it is grown and the whole write redone (so fill() may
  // be called more than once; it must write the same bytes each time).
  //
  // durable == true: the snapshot is on stable storage (in the journal, or
  // in data.mdb after mdb_env_sync) when this returns. durable == false: it
  // is written and survives a crash of this process, but a crash of the
  // machine may lose it (the store then opens at the previous snapshot; it
  // is never left damaged).
  //
  // A snapshot on the newest one made only of new values with fill() (no
  // kept_value, no fill_in_place) whose entry fits a quarter of the journal
  // goes to the journal (see the file comment); any other is written to
  // data.mdb directly, after the journaled ones.
  //
  // Returns the new snapshot's info, its entries in the order of `values`
  // (with where the new values were stored).
  //
  // Throws save_failed, and nothing is changed, when: the store is read-only;
  // keys are empty or repeated; a new_value's size is not a multiple of 8 or
  // it has no fill; a kept_value names a place no kept snapshot has a value
  // at; the chunks fail their checks (see write_snapshot(base_id, delta));
  // fill() throws (its exception is nested); the disk is full or the map
  // cannot grow, or the journal is full and the snapshots in it cannot be
  // written into data.mdb (the error says why). Throws save_failed and
  // poisons the store when flushing to disk fails (I/O error): the kernel
  // may have dropped the unwritten pages,
  // so no later write through this store can be trusted and every later call
  // throws save_failed until the store is reopened; the last snapshot that was
  // written durably is intact. Throws storage_error when called in a forked
  // child of the process that opened the store.
  //
  // A stored record that does not decode does not fail the save: the new
  // record is then written full (independent of the ones before), nothing is
  // reclaimed while the damaged record is kept, and once it is pruned the
  // next open deletes whatever bytes no kept snapshot has.
  //
  // Thread-safe: writes are serialized with each other and with reads.
  // REQUIRES: not called from inside a read_snapshot() visitor of this store.
  //
  // Reads (below) first write every journaled snapshot into data.mdb; they
  // throw load_failed when that fails (saying why; the snapshots stay in
  // the journal).
  snapshot_info write_snapshot(std::vector<std::variant<new_value, kept_value>> values, bool durable,
                               std::span<const schema_record> schemas = {});

  // Like write_snapshot(values), but the new snapshot is snapshot `base_id`
  // (a kept one; 0: an empty snapshot) changed by `delta`. Building on the
  // newest snapshot costs what `delta` names, however many values the
  // snapshot holds; on an older one, what the whole snapshot holds. The
  // returned entries are those of delta.put, in order. Throws save_failed
  // also when `base_id` is not a kept snapshot or cannot be read, or a key
  // is both put and removed.
  //
  // With chunks (format 4; the first write that stores one raises the
  // store's format to 4): delta.chunks are stored, and each value's
  // chunk_roots with it. Throws save_failed, and nothing is changed, when a
  // chunk is malformed or not 8-byte aligned, has an id below
  // next_chunk_id() or given twice, lists a child whose id is not smaller
  // than its own or that is neither a new chunk nor one the store holds, or
  // is referred to by no value and no other new chunk; or when a value's
  // chunk root is neither a new chunk nor one the store holds. A journaled
  // save is checked when it is journaled, against the chunks the store will
  // hold by the time it is written into data.mdb.
  snapshot_info write_snapshot(std::uint64_t base_id, snapshot_delta delta, bool durable,
                               std::span<const schema_record> schemas = {});

  // Puts every snapshot written with durable == false on stable storage,
  // as durable == true would have; does nothing when there is none. A
  // caller that must not let anything else know of a snapshot before it is
  // durable can so do other work while it is being written (a replicated
  // save sends it to PostgreSQL meanwhile, and commits there only after
  // this returns). Throws save_failed, and poisons the store, when a flush
  // fails (see write_snapshot()). Thread-safe.
  void make_durable();

  // Writes every journaled snapshot into data.mdb, where read-only opens
  // (in this or other processes) see them, and returns once they are there
  // (durably). Nothing to do without a journal. Throws save_failed, and the
  // snapshots stay journaled, when they cannot be written. Thread-safe.
  void flush_journal();

  // Reads (below) of a read-only store include the snapshots in the journal
  // (see the file comment). They throw corrupt_data naming journal.log when
  // it is damaged, and load_failed when it cannot be read.

  // Returns all stored snapshots, newest first. Throws corrupt_data when a
  // record does not decode (snapshot_ids() does not). Thread-safe.
  std::vector<snapshot_info> list_snapshots() const;

  // Returns the ids of all stored snapshots, newest first, without decoding
  // their records: recovery code can try read_snapshot() on each in turn
  // even when some record is damaged. Thread-safe.
  std::vector<std::uint64_t> snapshot_ids() const;

  // Returns the newest snapshot, or nullopt for an empty store. Throws
  // corrupt_data when a record it needs does not decode. Thread-safe.
  std::optional<snapshot_info> newest() const;

  // Reads snapshot `id` in one read transaction. First verifies every entry:
  // its bytes exist where the record says and have the recorded checksum;
  // then calls visit(entry, words) for each entry (in no particular order:
  // sorting the names would cost more than the rest). `words` are
  // the value's bytes, 8-byte aligned (copied only when LMDB's copy is not),
  // valid only during the call; decode them with reader_options_for(
  // words.size()), as one segment or, when entry.framed, as a framed message.
  //
  // Throws load_failed when no snapshot `id` exists, corrupt_data (naming the
  // key and the snapshot) when verification fails; nothing is visited then.
  // Exceptions thrown by `visit` propagate unchanged.
  //
  // Thread-safe; concurrent reads run in parallel. REQUIRES: `visit` does not
  // call write_snapshot() on this store (it would deadlock).
  void read_snapshot(std::uint64_t id,
                     const std::function<void(const entry_info&, kj::ArrayPtr<const capnp::word>)>& visit) const;
  // read_snapshot() for values that refer to chunks: `chunks` hands out the
  // chunks of the snapshot (entry.chunk_roots and their children), read in
  // the same transaction. Its get() throws corrupt_data for a missing or
  // damaged chunk (after other values may have been visited).
  void read_snapshot(std::uint64_t id,
                     const std::function<void(const entry_info&, kj::ArrayPtr<const capnp::word>,
                                              const chunk_source& chunks)>& visit) const;
  // read_snapshot() for checking a store: a value whose bytes fail
  // verification (missing, outside their blob, checksum mismatch) is not
  // visited; damaged(entry, message) is called for it instead, and the
  // snapshot's other values are still visited. Throws as read_snapshot()
  // does otherwise.
  void check_snapshot(
      std::uint64_t id,
      const std::function<void(const entry_info&, kj::ArrayPtr<const capnp::word>, const chunk_source& chunks)>& visit,
      const std::function<void(const entry_info&, const std::string& problem)>& damaged) const;

  // Calls `visit` with the store's chunks as they are now (one read
  // transaction), for decoding a value stored node by node outside a
  // snapshot's read (check_value_decodes). `what` names the value in
  // errors; a read-only store sees the chunks of its journal's snapshots too.
  // A chunk no kept snapshot reaches any more may be gone: get()
  // then throws corrupt_data.
  void read_chunks(const std::string& what, const std::function<void(const chunk_source& chunks)>& visit) const;

  // Returns the schema bytes stored for `fingerprint`, or nullopt. Thread-safe.
  std::optional<std::vector<std::byte>> get_schema(std::uint64_t fingerprint) const;

  // Sizes and counters (see store_stats). Thread-safe.
  store_stats stats() const;

  // The directory the store was opened in.
  std::filesystem::path directory() const;
  // Whether the store was opened read-only.
  bool read_only() const;
  // How many snapshots it keeps (store_options::keep_generations): the
  // newest ones, whose ids are consecutive.
  unsigned keep_generations() const;
  // Whether a failed flush has poisoned the store (see write_snapshot()).
  bool poisoned() const;

 private:
  // The store's parts (snapshot_store.cpp): the LMDB environment, the writer
  // and, for writable stores, the journal.
  struct impl;
  explicit snapshot_store(std::unique_ptr<impl> parts);
  // read_snapshot(), or check_snapshot() when `damaged` is set.
  void read_verified(
      std::uint64_t id,
      const std::function<void(const entry_info&, kj::ArrayPtr<const capnp::word>, const chunk_source& chunks)>& visit,
      const std::function<void(const entry_info&, const std::string& problem)>* damaged) const;

  std::unique_ptr<impl> impl_;
};

}  // namespace instadump::storage

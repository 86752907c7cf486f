// The writer of a store: writes snapshots into data.mdb, each in one LMDB
// write transaction (a direct save) or several in one (a batch of journaled
// snapshots, journal.h), and keeps what it knows about the records on disk
// (writer_state.h) so that a save costs what it changes.
//
// Writing one snapshot goes in steps, each in a file of its own:
//   1. key ids for the values' names (key_assignment.h);
//   2. placing the values: new bytes into blobs, kept values where they are
//      (value_placement.h); the new chunks, once checked (chunk_admission.h);
//   3. what changed, and the record that says it (record_building.h);
//   4. pruning: records no replay needs, blobs no kept snapshot has values
//      in (record_building.h, snapshot_chain.h), chunks no kept snapshot
//      reaches (chunk_ledger.h);
//   5. storing all of that in the transaction (lmdb_writer.cpp), and once it
//      has committed, making the in-memory state follow.
//
// Internal to instadump_storage. Thread-safe as annotated: the state is
// guarded by the environment's lock, held exclusively.
#pragma once

#include <lmdb.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "common/thread_safety.h"
#include "storage/chunk_ledger.h"
#include "storage/key_assignment.h"
#include "storage/record_building.h"
#include "storage/record_codec.h"
#include "storage/snapshot_types.h"
#include "storage/store_environment.h"
#include "storage/writer_state.h"

namespace instadump::storage {

class lmdb_writer {
 public:
  // REQUIRES: `env` outlives the writer.
  explicit lmdb_writer(store_environment& env) : env_(env) {}
  lmdb_writer(const lmdb_writer&) = delete;
  lmdb_writer& operator=(const lmdb_writer&) = delete;

  store_environment& env() const noexcept { return env_; }

  // Writes the snapshot `base_id` changed by `delta` into data.mdb in a
  // write transaction of its own, growing the map when it is full and
  // giving values filled in place the room they ask for; durable: flushes
  // it (mdb_env_sync). Returns its info, with the entries of delta.put (their
  // keys only when delta.entry_keys). Throws save_failed (see
  // snapshot_store::write_snapshot); nothing is written then, unless the
  // flush failed (the store is then poisoned).
  snapshot_info write(std::uint64_t base_id, const snapshot_delta& delta, bool durable,
                      std::span<const schema_record> schemas) EXCLUDES(env().mu);
  // write(), but first throws save_failed when the store is poisoned (checked
  // under the lock that serializes writes, so a write queued behind one that
  // poisons the store refuses too): the save of a store without a journal.
  snapshot_info save(std::uint64_t base_id, const snapshot_delta& delta, bool durable,
                     std::span<const schema_record> schemas) EXCLUDES(env().mu);

  // The id the next write's new chunks start at (snapshot_store::next_chunk_id
  // without a journal). Throws lmdb_failure and corrupt_data.
  std::uint64_t next_chunk_id() EXCLUDES(env().mu);

  // What the writer knows of the records on disk, read from `txn` when it
  // does not know it yet (or any more). In a batch, the records it holds
  // back are stored in `txn` first. Throws lmdb_failure and corrupt_data.
  const writer_state& state(MDB_txn* txn) REQUIRES(env().mu) { return loaded_state(txn); }

  // A batch: several snapshots written into one write transaction, which the
  // caller commits once (LMDB then reuses the pages of values that a later
  // snapshot of the batch prunes: see write_once). Call start_batch(), then
  // write_in_batch() for each snapshot, then finish_batch() and commit; when
  // anything throws, abort and call forget().
  void start_batch() REQUIRES(env().mu);
  // Writes snapshot `base_id` changed by `delta` into `txn`, created at
  // `created`. Its record is stored by finish_batch(), and only if a later
  // snapshot of the batch has not pruned it by then. Sets `freed_bytes` to
  // the size of the blobs it deleted. Returns its info (entries' keys left
  // empty).
  snapshot_info write_in_batch(MDB_txn* txn, std::uint64_t base_id, const snapshot_delta& delta,
                               std::span<const schema_record> schemas, std::int64_t created,
                               std::uint64_t& freed_bytes) REQUIRES(env().mu);
  // Stores the records the batch held back in `txn`; the batch ends.
  void finish_batch(MDB_txn* txn) REQUIRES(env().mu);
  // Forgets the state, which followed writes that an abort undid (it is
  // loaded again when needed), and ends a batch.
  void forget() REQUIRES(env().mu);

 private:
  writer_state& loaded_state(MDB_txn* txn) REQUIRES(env().mu);
  snapshot_info write_locked(std::uint64_t base_id, const snapshot_delta& delta, bool durable,
                             std::span<const schema_record> schemas) REQUIRES(env().mu);
  // Writes one snapshot (created at `created`; 0: now): steps 1 to 5 above,
  // in `batch_txn` (a batch's, which the caller commits or aborts) or, when
  // it is null, in a transaction of its own, committed here. `rooms[i]`: the
  // room to reserve for delta.put[i] when it is filled in place (0: its
  // size_bytes); throws room_needed when one needs more. Sets `freed_bytes`
  // to the size of the blobs it deleted. Returns the snapshot's info with
  // its entries' keys left empty (the caller has them).
  snapshot_info write_once(MDB_txn* batch_txn, std::uint64_t base_id, const snapshot_delta& delta,
                           const std::vector<std::size_t>& rooms, std::span<const schema_record> schemas,
                           std::int64_t created, std::uint64_t& freed_bytes) REQUIRES(env().mu);
  // What a write does to the chunks: the step of the ledger (new chunks,
  // counts, chunks to delete), the next free chunk id afterwards, and the
  // store's format afterwards (raised to 4 by the first write that needs it).
  struct chunk_writes {
    ledger_step step;
    std::uint64_t next_chunk_id = 1;
    std::uint32_t format = format_version_without_chunks;
  };
  // Step 5: stores the snapshot's record, names and schemas in `txn`, deletes
  // what `prune` and `chunks` let go and moves the counters on (converting a
  // store of an older format on the way). Returns the bytes it freed.
  std::uint64_t store(MDB_txn* txn, writer_state& w, const snapshot_record& record, const key_assignment& keys,
                      std::span<const schema_record> schemas, const pruning& prune, std::uint64_t next_blob,
                      const chunk_writes& chunks) REQUIRES(env().mu);
  // After the write committed (or, in a batch, was written): the in-memory
  // state follows. Should that fail (memory), it is dropped and loaded again.
  void follow(writer_state& w, const snapshot_record& record, const key_assignment& keys,
              const snapshot_change& change, const pruning& prune, chunk_writes&& chunks) REQUIRES(env().mu);

  store_environment& env_;
  std::unique_ptr<writer_state> state_ GUARDED_BY(env().mu);
  // While a batch is written: the records of its snapshots not yet pruned by
  // a later one, stored by finish_batch().
  bool in_batch_ GUARDED_BY(env().mu) = false;
  std::map<std::uint64_t, snapshot_record> batch_records_ GUARDED_BY(env().mu);
};

}  // namespace instadump::storage

// The replicated copy of one store in PostgreSQL (tables: pg_schema.h),
// seen through one connection: the writer's lease, what the copy holds, one
// fenced transaction per snapshot, and reading a snapshot back.
//
// The lease: a session-level advisory lock on the store's name, held by
// the writer's connection (PostgreSQL releases it when the connection ends:
// the writer's process died, or its connection was cut), plus an epoch in
// instadump.stores raised by every writer that takes the lock. Every write
// moves the store's newest snapshot forward only when the epoch is still
// the writer's, in the same transaction: a writer that lost the lock -- and
// whose successor raised the epoch -- writes nothing more (lease_lost).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "replication/copy_entry.h"
#include "replication/pg_connection.h"
#include "storage/name_map.h"
#include "storage/snapshot_types.h"

namespace instadump::replication {

// (Hashed: the shipper looks up every value of every save here.)
using copy_entries = storage::name_map<copy_entry>;

// The newest replicated snapshot of a store.
struct copy_head {
  std::uint64_t seq = 0;
  std::uint64_t epoch = 0;     // of the writer that replicated it
  std::uint64_t local_id = 0;  // its id in that writer's local store
  std::int64_t local_created_unix_nanos = 0;
};

// One snapshot to replicate: what changed relative to the copy's newest.
struct outgoing_snapshot {
  std::uint64_t local_id = 0;
  std::int64_t local_created_unix_nanos = 0;
  std::uint64_t total_bytes = 0;
  struct put {
    std::string_view key;              // into the saved snapshots it was built from, or into held_keys
    copy_entry entry;
    std::span<const std::byte> bytes;  // likewise (held_bytes)
    // The sender's record of what the copy held under the key before this
    // snapshot (null: the key is new to the copy), updated once the
    // snapshot is written, without looking the key up again. (Unused here.)
    copy_entry* known = nullptr;
  };
  std::vector<put> puts;
  // What puts read from the local store point into. (Puts built from the
  // snapshots a save handed over point into those, which outlive this:
  // copying a thousand keys and values cost a sync save ~0.3 ms.)
  std::deque<std::string> held_keys;
  std::deque<std::vector<std::byte>> held_bytes;
  std::vector<std::string> removed;
  struct chunk {
    std::uint64_t id = 0;
    std::vector<std::byte> bytes;
  };
  std::vector<chunk> chunks;                     // new to the copy, children before parents or not
  std::vector<storage::schema_record> schemas;   // new to the copy
  std::uint64_t new_bytes() const;
};

class replicated_copy {
 public:
  // Connects and makes sure the tables exist (ensure_pg_schema) and the
  // store has its row. Throws replication_error.
  replicated_copy(const std::string& url, std::string store);
  // For readers: connects and changes nothing -- every transaction on the
  // connection is read-only (default_transaction_read_only), so a reader
  // can never write the copy. Throws replication_error when the copy's
  // tables do not exist (no writer has replicated there yet).
  struct read_only_t {};
  replicated_copy(const std::string& url, std::string store, read_only_t);

  // Takes the advisory lock if no one holds it; then raises the epoch and
  // returns true. false: another instance holds it.
  bool try_take_lease();
  // Waits (blocking) until the lock is free, then takes it and raises the
  // epoch.
  void take_lease_waiting();
  // After a reconnect: takes the lock again and checks the epoch is still
  // `epoch`. Throws lease_lost when another instance holds the lock or has
  // raised the epoch since.
  void resume_lease(std::uint64_t epoch);
  // This connection's epoch (0: no lease taken).
  std::uint64_t epoch() const { return epoch_; }

  // The copy's newest snapshot, or nullopt when it has none.
  std::optional<copy_head> head();
  // The values of snapshot `seq`, without bytes.
  copy_entries entries_at(std::uint64_t seq);
  // Ids of every chunk, and fingerprints of every schema, the copy holds.
  std::unordered_set<std::uint64_t> chunk_ids();
  std::unordered_set<std::uint64_t> schema_fingerprints();
  // Past the largest chunk id the copy holds (1 when it holds none): a
  // store restored from the copy hands out chunk ids from here on, so that
  // none of the copy's ids -- of chunks that its older snapshots, or no
  // snapshot, reach -- is ever used again for other bytes.
  std::uint64_t next_chunk_id();

  // Replicates `s` as the snapshot after `s`'s base in one transaction,
  // fenced by the epoch; returns its seq. A chunk (or schema) the copy
  // holds already is not written again; a chunk it holds with other bytes
  // under the same id fails the write (chunk ids are never reused: one
  // that was would make a later restore assemble the wrong bytes). Throws
  // lease_lost when the epoch is no longer ours (nothing written),
  // replication_error otherwise (the transaction rolled back, or -- the
  // connection lost during COMMIT -- perhaps committed: head() tells).
  //
  // With `before_commit`, it is called (on this thread) while the server
  // runs the write, and the transaction commits only once it has returned:
  // a sync save makes its local snapshot durable meanwhile, so that the copy
  // never holds a snapshot the local store could still lose. What it throws
  // rolls the transaction back and propagates. It is not called when the
  // write fails before it is sent.
  std::uint64_t write(const outgoing_snapshot& s, const std::function<void()>& before_commit = {});

  // Reads snapshot `seq` whole: visit(key, entry, bytes) for each value.
  void read_values(std::uint64_t seq,
                   const std::function<void(std::string_view, const copy_entry&, std::span<const std::byte>)>& visit);
  // What snapshot `seq` changed relative to the one before: put(key, entry,
  // bytes) for each value it wrote, removed(key) for each it removed.
  // Returns false (visiting nothing) when the copy holds no snapshot `seq`.
  bool read_changes(std::uint64_t seq,
                    const std::function<void(std::string_view, const copy_entry&, std::span<const std::byte>)>& put,
                    const std::function<void(std::string_view)>& removed);
  // The chunks `ids` (those the copy holds), visit(id, bytes) each.
  void read_chunks(std::span<const std::uint64_t> ids,
                   const std::function<void(std::uint64_t, std::span<const std::byte>)>& visit);
  // The schema bytes of `fingerprints` the copy holds.
  std::vector<storage::schema_record> read_schemas(std::span<const std::uint64_t> fingerprints);

  bool ok() const { return conn_.ok(); }
  const std::string& store() const { return store_; }

 private:
  std::uint64_t raise_epoch();
  void rollback_quietly();

  std::string store_;
  pg_connection conn_;
  std::uint64_t epoch_ = 0;
};

}  // namespace instadump::replication

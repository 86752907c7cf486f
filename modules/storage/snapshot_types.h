// Plain value types of the snapshot store's API: options, schema identities,
// values to write, and what a stored snapshot contains.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace instadump::storage {

// The newest on-disk format version this build writes and reads, stored in
// StoreMeta (see docs/FORMAT.md). 3 added the journal: a store of format 3
// may hold snapshots in journal.log that data.mdb does not have yet, so
// builds that know only format 2 must not open it. 4 added chunks. 5 added
// deltas: a collection's value may name the changes saved since its tree
// (the store does not tell them from other chunks; a build of format 4
// would misread such a value, so it must not open the store). 6 added leaf
// groups: a map's or set's lowest branch and its leaves stored as one chunk,
// which a build of format 5 cannot read. 7 added members stored node by
// node: a struct state's value whose pmap, pset or pvector members are
// chunk trees (ChunkedMembers), which a build of format 6 would misread as a
// damaged descriptor.
inline constexpr std::uint32_t format_version = 7;
// The format version of a store's data as long as it holds no chunks: new
// stores start at it, and a store is raised to format_version (7) by the
// first write that stores a chunk or a value that refers to chunks, so that
// builds that know only format 3 keep opening the stores that do not use
// them.
inline constexpr std::uint32_t format_version_without_chunks = 3;

// How snapshot_store::open() opens a directory.
struct store_options {
  // Open without writing anything: no writer lock is taken, so a read-only
  // store can run next to the (single) writer process. The store must exist.
  bool read_only = false;
  // How many snapshots write_snapshot() keeps (the newest ones). At least 1.
  unsigned keep_generations = 2;
  // LMDB map size to start with, in bytes; grown automatically when full.
  // An existing store that is larger keeps its larger size.
  std::size_t initial_map_size = std::size_t{64} << 20;
  // Writable stores: write small snapshots to the journal first (one flush
  // of a preallocated file, so a durable save costs one disk flush instead
  // of LMDB's two) and into data.mdb afterwards, in the background. Reads
  // of this store always see them. See docs/FORMAT.md, "The journal".
  bool journal = true;
  // Size of journal.log (at least 64 KiB): two halves, one being filled by
  // saves while the snapshots in the other go into data.mdb. A snapshot
  // whose entry takes more than a quarter of it is written to data.mdb
  // directly.
  std::size_t journal_bytes = std::size_t{4} << 20;
  // The background writer puts journaled snapshots into data.mdb once saving
  // pauses this long, or once saving moves on to the other half of the
  // journal, and at the latest a second after the oldest was saved. Those
  // that arrive meanwhile go in with the same durable LMDB commit, so saving
  // often costs few flushes of data.mdb. It is also how long a read-only
  // open in another process may lag behind.
  std::chrono::milliseconds journal_delay{20};
};

// Which schema (and which version of it) a stored value was written with.
struct schema_identity {
  std::uint64_t fingerprint = 0;
  std::uint32_t version = 0;

  friend bool operator==(const schema_identity&, const schema_identity&) = default;
};

// A value to store as new bytes in a snapshot.
struct new_value {
  // The value's name: the characters must stay valid until write_snapshot()
  // returns (the store copies what it keeps), so that a save of many values
  // copies no names.
  std::string_view key;
  schema_identity schema;
  // Exact number of bytes fill() writes. Must be a multiple of 8 (a whole
  // number of Cap'n Proto words).
  std::size_t size_bytes = 0;
  // Writes exactly size_bytes into the span, which is space reserved inside the
  // LMDB page (MDB_RESERVE), so there is no intermediate copy. The span's
  // address is NOT guaranteed to be 8-byte aligned. May throw: the whole write
  // is then abandoned and write_snapshot() throws save_failed.
  std::function<void(std::span<std::byte>)> fill;
  // Instead of `fill`, for bytes that exist already (a small value encoded
  // in memory): exactly size_bytes of them, valid until write_snapshot()
  // returns. The store copies them.
  std::span<const std::byte> bytes;
  // Instead of `fill`, for values whose exact size is not known up front
  // (a large value, encoded straight into the store's pages without a copy):
  // size_bytes is the room to reserve; fill_in_place gets that room, 8-byte
  // aligned, and returns how many of its bytes the value took (a multiple of
  // 8, at most the room; the rest is left unused), or -- having written
  // nothing the store keeps -- more than the room: the room it needs, which
  // the store then reserves before calling it again.
  std::function<std::size_t(std::span<std::byte>)> fill_in_place;
  // Whether the bytes are a Cap'n Proto message in the standard framing
  // (segment table first) rather than one unframed segment. Recorded, not
  // interpreted, by the store (entry_info::framed).
  bool framed = false;
  // entry_info::key_id of an earlier value under this key, if known (0: not
  // known): spares the store looking the name up.
  std::uint64_t key_id = 0;
  // The chunks the value's bytes refer to directly (the roots of the
  // persistent collections in it): each one a new chunk of the same write
  // (snapshot_delta::chunks) or a chunk the store holds. Stored with the
  // value (entry_info::chunk_roots); they stay while a kept snapshot has the
  // value. A value that refers to chunks has bytes (size_bytes > 0).
  std::vector<std::uint64_t> chunk_roots;
};

// A value that is unchanged since a stored snapshot: the new snapshot refers to
// the bytes already stored instead of writing them again (incremental save).
// blob_id and offset come from an entry_info of a snapshot still in the store
// (a value of size 0 has blob 0). The remaining fields repeat that entry; the
// store uses them only when its own records are damaged and it cannot look
// the value up.
struct kept_value {
  std::string_view key;  // valid until write_snapshot() returns, as new_value::key
  schema_identity schema;
  std::uint64_t blob_id = 0;
  std::uint64_t offset = 0;
  std::uint64_t size_bytes = 0;
  std::uint64_t checksum = 0;
  bool framed = false;
  // entry_info::key_id of that entry, if known (0: not known): spares the
  // store looking the name up.
  std::uint64_t key_id = 0;
  // That entry's chunk_roots (valid until write_snapshot() returns): the
  // store knows the roots of the values it holds and uses these only when
  // its records are damaged (each must then be a chunk the store holds).
  std::span<const std::uint64_t> chunk_roots;
};

// A chunk to store with a snapshot (format 4): one node of a persistent
// collection, in the layout of chunk_format.h (encode_chunk). Chunks are
// stored once and shared by every kept snapshot that reaches them: from a
// value's chunk_roots, and from chunk to child. A chunk no kept snapshot
// reaches any more is deleted.
struct new_chunk {
  // Unique, at least snapshot_store::next_chunk_id() (ids are never reused;
  // gaps are fine), and greater than the id of every child it lists.
  std::uint64_t id = 0;
  // The whole chunk (header, child ids, payload), 8-byte aligned, as
  // encode_chunk returns it; valid until write_snapshot() returns. The store
  // copies it.
  std::span<const std::byte> bytes;
};

// How a new snapshot differs from the one it builds on: values to store
// under their keys (new bytes, or bytes already stored), and keys to leave
// out. Keys not named keep their values.
struct snapshot_delta {
  std::vector<std::variant<new_value, kept_value>> put;
  std::vector<std::string> remove;
  // New chunks the values (or other new chunks) refer to, in any order.
  // Every one must be referred to: by a value of `put`'s chunk_roots or as
  // a child of another new chunk.
  std::vector<new_chunk> chunks;
  // true: every chunk of `chunks` was sealed (encode_chunk, seal_chunk) in
  // this process for this write, from bytes no file held, so the store
  // checks each one's layout, id and links but does not hash it again.
  // Chunks read from anywhere (a journal, another store, the network) leave
  // it false and are verified whole.
  bool chunks_sealed_here = false;
  // A floor for the store's chunk ids: after this write, next_chunk_id() is
  // at least this (0: no floor). A store rebuilt from a copy that holds
  // chunks it does not (a replicated copy's older or unreachable ones) sets
  // it past the copy's largest id, so that it never hands one of those ids
  // out again for other bytes. A write that sets it goes to data.mdb
  // directly, never to the journal.
  std::uint64_t next_chunk_id_floor = 0;
  // false: the entries write_snapshot() returns (those of `put`, in order)
  // leave `key` empty -- the caller has the names -- which spares copying
  // every name of a large save.
  bool entry_keys = true;
};

// One value of a stored snapshot.
struct entry_info {
  std::string key;
  schema_identity schema;
  std::uint64_t blob_id = 0;     // the blob holding the bytes (0 for an empty value); shared by
                                 // the values saved together and by snapshots that kept them
  std::uint64_t size_bytes = 0;  // exact length of the bytes
  std::uint64_t checksum = 0;    // XXH3-64 of the bytes (see checksum.h)
  std::uint64_t offset = 0;      // where in the blob the bytes start
  bool framed = false;           // see new_value::framed
  std::uint64_t key_id = 0;      // the store's id for `key` (0 for format 1 stores not yet converted)
  std::vector<std::uint64_t> chunk_roots;  // the chunks the bytes refer to directly (new_value::chunk_roots)

  friend bool operator==(const entry_info&, const entry_info&) = default;
};

// A stored snapshot: its id (increasing, never reused), when it was written and
// its entries, sorted by key.
struct snapshot_info {
  std::uint64_t id = 0;
  std::int64_t created_unix_nanos = 0;
  std::vector<entry_info> entries;
  std::uint64_t total_bytes = 0;  // sum of the entries' size_bytes

  friend bool operator==(const snapshot_info&, const snapshot_info&) = default;
};

// A schema description to store next to the values (keyed by fingerprint). The
// bytes are opaque to the store.
struct schema_record {
  std::uint64_t fingerprint = 0;
  std::vector<std::byte> bytes;
};

// Sizes of a store, for benchmarks, tests and "how big is my database" tools.
struct store_stats {
  std::uint64_t file_bytes = 0;   // size of data.mdb on disk
  std::uint64_t map_bytes = 0;    // current LMDB map size (the file's upper bound until grown)
  std::uint64_t used_bytes = 0;   // pages in use, including free pages LMDB will reuse
  std::uint64_t live_bytes = 0;   // sum of the sizes of all stored blobs
  std::uint64_t blob_count = 0;   // number of stored blobs
  std::uint64_t chunk_count = 0;  // number of stored chunks
  std::uint64_t chunk_bytes = 0;  // sum of their sizes
  std::uint64_t snapshot_count = 0;  // kept snapshots, journaled ones included
  // Snapshots that only the journal holds so far, and the bytes of their new
  // values (also counted above; the chunks among them in chunk_count). Always
  // 0 for a writable store, whose reads first write them into data.mdb.
  std::uint64_t journaled_snapshots = 0;
  std::uint64_t journaled_bytes = 0;
  // Reader slots of dead processes that open() released (mdb_reader_check).
  int stale_readers_cleared = 0;
};

}  // namespace instadump::storage

# On-disk structures of the Instadump snapshot store (modules/storage).
#
# These messages are stored as LMDB values (see docs/FORMAT.md for the layout).
# The file id below and every field ordinal (@N) are part of the on-disk format:
# never renumber, retype or reuse an ordinal, and never change a default. New
# fields may only be appended with the next free ordinal; a change that old
# readers cannot ignore must bump formatVersion (see FORMAT.md, "Evolution").

@0xf6ee7624a34dffdd;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("instadump::storage::schema");

# The single record stored under key "store" in the "meta" database. Its
# presence is what makes an LMDB environment an Instadump store.
struct StoreMeta {
  magic @0 :Text;               # always "instadump"
  formatVersion @1 :UInt32;     # highest format version the store's data needs
  createdUnixNanos @2 :Int64;   # when the store was created
}

# Format version 1 only: one snapshot, listing all of its values. Stored in
# the "snapshots" database under the snapshot id (8-byte big-endian). Format 2
# stores SnapshotRecord there instead; stores of format 1 are still read, and
# converted on their first write (docs/FORMAT.md).
struct Manifest {
  formatVersion @0 :UInt32;     # format version this manifest was written with
  snapshotId @1 :UInt64;        # equals its key; checked on read
  createdUnixNanos @2 :Int64;   # when the snapshot was written
  entries @3 :List(Entry);      # sorted by key, keys unique
}

# Format version 1 only: one value of a Manifest. The bytes live in the
# "blobs" database under blobId (one value per blob, framed); a blob may be
# shared by several snapshots (incremental saves).
struct Entry {
  key @0 :Text;                 # the value's name (any length; never an LMDB key)
  blobId @1 :UInt64;            # key of the bytes in the "blobs" database
  sizeBytes @2 :UInt64;         # exact length of the stored bytes (multiple of 8)
  checksum @3 :UInt64;          # XXH3-64 (seed 0) of the stored bytes
  schemaFingerprint @4 :UInt64; # identity of the value's schema (see "schemas")
  schemaVersion @5 :UInt32;     # version of that schema the bytes were written with
}

# --- Format version 2 -----------------------------------------------------------
#
# A snapshot is stored as the change from the snapshot before it, so a save
# writes what changed, not the whole state: a SnapshotRecord under the
# snapshot id in "snapshots", stored with Cap'n Proto's packed encoding, plus
# (when any value is new) one blob in "blobs" holding all the new values side
# by side. Every few snapshots a record is written "full" (listing every
# value), so reading any snapshot replays a bounded number of records: the
# newest full record at or before it, then each change after it in order.

struct SnapshotRecord {
  formatVersion @0 :UInt32;     # format version this record was written with (2; 4 when an
                                # entry has chunkRoots)
  snapshotId @1 :UInt64;        # equals its key; checked on read
  createdUnixNanos @2 :Int64;   # when the snapshot was written
  full @3 :Bool;                # entries lists every value of the snapshot; else only those
                                # that differ from the previous snapshot (new, or stored elsewhere)
  schemas @4 :List(SchemaId);   # the schema identities entries refer to (by index)
  entries @5 :List(ValueEntry); # sorted by keyId, unique
  removed @6 :List(UInt64);     # not full: key ids the previous snapshot had and this one has not
  valueCount @7 :UInt64;        # values in the whole snapshot
  totalBytes @8 :UInt64;        # their summed sizeBytes
}

struct SchemaId {
  fingerprint @0 :UInt64;       # identity of the schema description (key in "schemas")
  version @1 :UInt32;           # the version of it the bytes were written with
}

# One value: whose it is, where its bytes are, and how to check them.
struct ValueEntry {
  keyId @0 :UInt64;             # key in the "keys" database (the value's name)
  blobId @1 :UInt64;            # key of the blob in "blobs" holding the bytes
  offset @2 :UInt64;            # where in the blob the bytes start (a multiple of 8)
  sizeBytes @3 :UInt64;         # exact length of the bytes (a multiple of 8)
  checksum @4 :UInt64;          # XXH3-64 (seed 0) of the bytes
  schemaIndex @5 :UInt32;       # index into SnapshotRecord.schemas
  framed @6 :Bool;              # the bytes are a message in the standard framing (segment
                                # table first); else one segment, unframed (all values format 2
                                # writes; format 1 values keep their framing)
  chunkRoots @7 :List(UInt64);  # format 4: the chunks (in "chunks") the bytes refer to directly
}

# --- Format version 3: the journal -----------------------------------------------
#
# A small save is first appended to <dir>/journal.log (one write and one
# fdatasync of a preallocated file) and written into data.mdb afterwards, in
# the background, by the same code a direct save runs. Each journal frame
# (docs/FORMAT.md, "The journal") holds one JournalEntry: everything needed
# to write that snapshot into data.mdb exactly as the save planned it.
# A store whose StoreMeta.formatVersion is 3 may have entries in its journal
# that data.mdb does not have yet.

struct JournalEntry {
  formatVersion @0 :UInt32;          # format version this entry was written with (3; 4 when it
                                     # has chunks or chunk roots)
  storeCreatedUnixNanos @1 :Int64;   # StoreMeta.createdUnixNanos of the store it belongs to
  snapshotId @2 :UInt64;             # the snapshot this entry writes; equals the frame's id
  baseId @3 :UInt64;                 # the snapshot it changes: snapshotId - 1 (0: none)
  baseCreatedUnixNanos @4 :Int64;    # createdUnixNanos of that snapshot (0 when baseId is 0)
  createdUnixNanos @5 :Int64;        # when this snapshot was written
  newKeys @6 :List(KeyName);         # names that get key ids with this snapshot, in id order
  removed @7 :List(UInt64);          # key ids this snapshot leaves out
  blobId @8 :UInt64;                 # the blob the new values go to (0: they have no bytes)
  blob @9 :Data;                     # the new values' bytes, side by side in the order below
  # The new values, one list per field (an entry of a thousand small values
  # stays small), in the order the save gave them. Value i starts in `blob`
  # where value i - 1 ends; its checksum is computed when it is written into
  # data.mdb (the frame's checksum covers the bytes until then).
  keyIds @10 :List(UInt32);
  sizes @11 :List(UInt32);           # in bytes, multiples of 8
  schemaIndexes @12 :List(UInt32);   # into `schemas`
  framed @13 :List(Bool);            # as ValueEntry.framed
  schemas @14 :List(SchemaId);       # the schema identities the values use
  schemaTexts @15 :List(SchemaText); # schema descriptions to store ("schemas" database)
  # Format 4: the new chunks, whole (docs/FORMAT.md, "Chunks"), side by side
  # in ascending id order, and the chunks each new value refers to: value i
  # lists chunkRootCounts[i] of chunkRoots, after those of the values before
  # it (both lists empty when no value refers to chunks).
  chunks @16 :Data;
  chunkSizes @17 :List(UInt32);      # in bytes, multiples of 8, one per chunk
  chunkRootCounts @18 :List(UInt32); # one per new value, or none
  chunkRoots @19 :List(UInt64);
}

struct KeyName {
  keyId @0 :UInt64;
  name @1 :Data;                     # the value's name, as the "keys" database stores it
}

struct SchemaText {
  fingerprint @0 :UInt64;
  bytes @1 :Data;
}

# --- Format version 7: collections stored node by node inside a value ---------
#
# The bytes of a value (one unframed segment, like every value) whose state
# is a struct with members of type pmap, pset or pvector that are stored node
# by node (docs/FORMAT.md, "Members stored node by node"). Its chunk roots are
# those of `members`, in order. (A descriptor of a collection state --
# ChunkedCollection -- has no pointers; this struct's root pointer has two,
# which is how a reader tells them apart.)
struct ChunkedMembers {
  value @0 :AnyPointer;              # the state's root struct, with each member below empty
  members @1 :List(ChunkedMember);   # at least one; paths unique
}

struct ChunkedMember {
  path @0 :Text;                     # the member's field names in the state's schema, from the
                                     # root struct, joined by '.' (e.g. "world.players")
  root @1 :UInt64;                   # as ChunkedCollection: the member's tree (0: a pvector
  size @2 :UInt64;                   # whose elements are all in its tail), its entries,
  tail @3 :UInt64;                   # a pvector's tail chunk,
  delta @4 :UInt64;                  # and the newest delta (0: none)
}

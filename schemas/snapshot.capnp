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

# One snapshot: the list of values it consists of. Stored in the "snapshots"
# database under the snapshot id (8-byte big-endian).
struct Manifest {
  formatVersion @0 :UInt32;     # format version this manifest was written with
  snapshotId @1 :UInt64;        # equals its key; checked on read
  createdUnixNanos @2 :Int64;   # when the snapshot was written
  entries @3 :List(Entry);      # sorted by key, keys unique
}

# One value of a snapshot. The bytes live in the "blobs" database under
# blobId; a blob may be shared by several snapshots (incremental saves).
struct Entry {
  key @0 :Text;                 # the value's name (any length; never an LMDB key)
  blobId @1 :UInt64;            # key of the bytes in the "blobs" database
  sizeBytes @2 :UInt64;         # exact length of the stored bytes (multiple of 8)
  checksum @3 :UInt64;          # XXH3-64 (seed 0) of the stored bytes
  schemaFingerprint @4 :UInt64; # identity of the value's schema (see "schemas")
  schemaVersion @5 :UInt32;     # version of that schema the bytes were written with
}

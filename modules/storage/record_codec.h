// The snapshot records of format version 2 (SnapshotRecord in
// schemas/snapshot.capnp) in memory, and their encoding: Cap'n Proto's packed
// serialization, decoded with bounds proportional to the input.
//
// A record says what one snapshot changed relative to the snapshot before it
// (or, when `full`, everything it holds); snapshot_chain.h replays records
// into views. Decoders treat their input as untrusted: they never crash on
// arbitrary bytes (tools/fuzz/fuzz_snapshot_decode.cpp checks that) and
// report any problem as corrupt_data.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "storage/snapshot_types.h"

namespace instadump::storage {

// Where a stored value's bytes are: `size` bytes at `offset` in blob
// `blob_id`. Values of size 0 have no bytes and use blob 0, offset 0.
struct value_ref {
  std::uint64_t blob_id = 0;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;

  friend bool operator==(const value_ref&, const value_ref&) = default;
};

// The chunks a stored value refers to directly (ValueEntry.chunkRoots):
// immutable, and shared by the copies of the value that views and records
// make (most values have none, and copying those costs nothing).
class chunk_root_list {
 public:
  chunk_root_list() = default;
  explicit chunk_root_list(std::vector<std::uint64_t> ids)
      : ids_(ids.empty() ? nullptr : std::make_shared<const std::vector<std::uint64_t>>(std::move(ids))) {}

  std::span<const std::uint64_t> ids() const noexcept {
    return ids_ ? std::span<const std::uint64_t>(*ids_) : std::span<const std::uint64_t>();
  }
  bool empty() const noexcept { return !ids_; }
  std::vector<std::uint64_t> to_vector() const { return {ids().begin(), ids().end()}; }

  friend bool operator==(const chunk_root_list& a, const chunk_root_list& b) {
    return std::ranges::equal(a.ids(), b.ids());
  }

 private:
  std::shared_ptr<const std::vector<std::uint64_t>> ids_;
};

// One value of a snapshot: whose (key id), where, how to check it, what it
// is (schema; framed or a single unframed segment), and which chunks it
// refers to.
struct stored_value {
  std::uint64_t key_id = 0;
  value_ref ref;
  std::uint64_t checksum = 0;
  schema_identity schema;
  bool framed = false;
  chunk_root_list chunk_roots;

  friend bool operator==(const stored_value&, const stored_value&) = default;
};

// A decoded SnapshotRecord.
struct snapshot_record {
  std::uint64_t id = 0;
  std::int64_t created_unix_nanos = 0;
  bool full = false;
  std::vector<stored_value> entries;  // sorted by key_id, unique
  std::vector<std::uint64_t> removed;  // sorted, unique; empty when full
  std::uint64_t value_count = 0;
  std::uint64_t total_bytes = 0;
};

// Serializes `record` (packed) with format version 2 or, when a value
// refers to chunks, 4.
std::vector<std::byte> encode_record(const snapshot_record& record);

// Decodes a record. Throws corrupt_data naming `where` when the bytes do not
// decode, the format version is not 2 or 4 (one newer than 4 asks for an
// upgrade), or the lists break their rules (entries or removed not sorted
// and unique, a schema index out of range, an offset or size that is not a
// multiple of 8, chunk roots on a value without bytes).
snapshot_record decode_record(std::span<const std::byte> bytes, const std::string& where);

}  // namespace instadump::storage

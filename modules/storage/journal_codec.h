// Journal entries (JournalEntry in schemas/snapshot.capnp) in memory, and
// their encoding: one Cap'n Proto message in the standard framing per
// journaled snapshot, built so that the new values are written straight into
// the message (no copy), and decoded with bounds proportional to its size.
//
// An entry says everything needed to write its snapshot into data.mdb the
// way the save planned it: the snapshot and blob ids, the key ids of new
// names, each new value's key id, size, schema and chunk roots (values lie
// side by side in the blob), and the new chunks. The store writes it with
// the same code as a direct save and checks that the result is what the
// entry says.
//
// Decoders treat their input as untrusted: they never crash on arbitrary
// bytes (tools/fuzz/fuzz_snapshot_decode.cpp checks that) and report any
// problem as corrupt_data.
#pragma once

#include "instadump/capnp_compat.h"  // before any Cap'n Proto header

#include <capnp/message.h>
#include <kj/array.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "storage/snapshot_types.h"

namespace instadump::storage {

// The format version of journal entries this build writes and reads: 6
// for an entry with chunks or chunk roots (5 from builds before leaf groups,
// 4 from builds before deltas), else 3 (which builds of format 3 read too).
inline constexpr std::uint32_t kJournalEntryFormat = 6;
// Entries with chunks written by builds of format 5 and 4 (read alike).
inline constexpr std::uint32_t kJournalEntryFormatBeforeGroups = 5;
inline constexpr std::uint32_t kJournalEntryFormatTreesOnly = 4;
inline constexpr std::uint32_t kJournalEntryFormatWithoutChunks = 3;

// One new value of a journaled snapshot: its name (key id), where its bytes
// are in the entry's blob, what it is, and the chunks it refers to.
struct journal_value {
  std::uint64_t key_id = 0;
  std::uint64_t offset = 0;  // in journal_entry::blob: where the value before ends
  std::uint64_t size_bytes = 0;
  schema_identity schema;
  bool framed = false;
  std::vector<std::uint64_t> chunk_roots;

  friend bool operator==(const journal_value&, const journal_value&) = default;
};

// A journaled snapshot (JournalEntry).
struct journal_entry {
  std::int64_t store_created_unix_nanos = 0;
  std::uint64_t snapshot_id = 0;
  std::uint64_t base_id = 0;
  std::int64_t base_created_unix_nanos = 0;
  std::int64_t created_unix_nanos = 0;
  std::vector<std::pair<std::uint64_t, std::string>> new_keys;  // key id, name
  std::vector<journal_value> values;
  std::vector<std::uint64_t> removed;
  std::uint64_t blob_id = 0;
  // The new values' bytes; points into the message the entry was built in
  // or decoded from, and lives as long as it.
  std::span<const std::byte> blob;
  std::vector<schema_record> schemas;
  // The new chunks, whole, in ascending id order; each points into the
  // message, as `blob` does (8-byte aligned).
  std::vector<std::span<const std::byte>> chunks;
};

// The id a chunk's header gives (read from bytes 8 to 15). REQUIRES: the
// chunk has a whole header.
std::uint64_t chunk_id_of(std::span<const std::byte> chunk) noexcept;

// Builds the message of one journal entry. Construct it, fill blob() with
// the new values and chunks() with the new chunks, then finish() with the
// rest of the entry; payload() is then the frame's payload: the message in
// the standard framing, packed (Cap'n Proto's packed encoding) and padded
// with zeros to whole words.
class journal_message {
 public:
  // Makes room for a blob of `blob_bytes` and chunks of `chunk_bytes` (each
  // a multiple of 8); `other_words` sizes the rest of the first segment, so
  // that the usual entry is one segment. Throws std::bad_alloc.
  journal_message(std::size_t blob_bytes, std::size_t chunk_bytes, std::size_t other_words);
  journal_message(const journal_message&) = delete;
  journal_message& operator=(const journal_message&) = delete;

  // The blob's bytes, 8-byte aligned, zero until filled.
  std::span<std::byte> blob() noexcept { return blob_; }
  // The room of the chunks, side by side, 8-byte aligned, zero until filled.
  std::span<std::byte> chunks() noexcept { return chunks_; }

  // Writes every field of `entry` but the bytes of the blob and the chunks
  // (entry.blob and the bytes of entry.chunks are ignored: blob() and
  // chunks() hold them; entry.chunks gives their sizes). Call once.
  void finish(const journal_entry& entry);

  // The frame's payload, as the pieces to write one after another, and its
  // size unpacked. Valid until the message dies.
  const std::vector<std::span<const std::byte>>& payload() const noexcept { return parts_; }
  std::size_t payload_bytes() const noexcept;
  std::size_t unpacked_bytes() const noexcept { return unpacked_bytes_; }

 private:
  capnp::MallocMessageBuilder message_;
  std::span<std::byte> blob_;
  std::span<std::byte> chunks_;
  std::unique_ptr<std::byte[]> packed_;  // not zeroed first: every byte of the payload is written
  std::size_t unpacked_bytes_ = 0;
  std::vector<std::span<const std::byte>> parts_;
};

// Words of a journal message's first segment besides the blob and the
// chunks, for an entry of `values` new values, `new_keys` new names of
// `name_bytes` bytes in all, `removed` removed keys, `schema_bytes` bytes of
// schema texts, `chunks` new chunks and `chunk_roots` chunk roots in all.
std::size_t journal_message_words(std::size_t values, std::size_t new_keys, std::size_t name_bytes, std::size_t removed,
                                  std::size_t schema_bytes, std::size_t chunks = 0, std::size_t chunk_roots = 0);

// Decodes a frame's payload, unpacked. The entry's blob and chunks point
// into `payload`. Checks everything that does not need the store: the
// format version (a newer one is refused with "upgrade Instadump"), baseId
// = snapshotId - 1, the value lists of one length, sizes multiples of 8 that
// add up to the blob's size, schema indexes in range, key ids not 0, names
// not empty, each chunk whole (chunk_format.h) with ids ascending, the chunk
// sizes adding up to the chunks' bytes, the chunk root counts to the roots,
// and roots only on values with bytes. Throws corrupt_data naming `where`.
journal_entry decode_journal_entry(kj::ArrayPtr<const capnp::word> payload, const std::string& where);

}  // namespace instadump::storage

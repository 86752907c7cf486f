// The `entry` column of instadump.entries (tables of version 2,
// docs/FORMAT.md "Replicated copy in PostgreSQL"): what one snapshot wrote
// under one key, metadata and value bytes in one bytea. A snapshot's rows
// then cross as two arrays (keys, entries) and are two columns in
// PostgreSQL, which is most of what a replicated save costs there: each
// further column of a thousand rows cost about as much as a fifth of the
// rows themselves.
//
// Layout. Byte 0 holds flags: bit 0 removed, bit 1 framed. A removed key's
// entry is that byte alone. A value's entry goes on with its schema
// fingerprint (8 bytes), schema version (4), checksum (8) and number of
// chunk roots (4), big-endian as PostgreSQL's int8send/int4send write them
// (so the upgrade from version 1 builds entries in SQL); then the chunk
// roots, 8 bytes each, little-endian as version 1's chunk_roots column held
// them; then the value's bytes. The part before the bytes is the entry's
// head: entry_head_sql() computes it in SQL, so that readers that need no
// bytes do not fetch them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "replication/copy_entry.h"

namespace instadump::replication {

// The head of a value's entry without its chunk roots.
inline constexpr std::size_t kEntryFixedHeadBytes = 25;
// The entry of a removed key.
inline constexpr std::byte kRemovedEntry{1};

// The length of the entry of a value of `value_bytes` bytes described by `e`.
std::size_t entry_bytes(const copy_entry& e, std::size_t value_bytes);
// Writes that entry into `out` (exactly entry_bytes(e, bytes.size()) long).
void write_entry(std::span<std::byte> out, const copy_entry& e, std::span<const std::byte> bytes);

// An entry read back: a removed key, or a value's metadata and bytes.
struct read_entry {
  bool removed = false;
  copy_entry entry;                   // size_bytes set
  std::span<const std::byte> bytes;   // a view into the column's bytes; empty when only the head was read
};

// Decodes a whole entry. Throws replication_error naming `where` (the store,
// key and snapshot) when the bytes are no entry.
read_entry decode_entry(std::span<const std::byte> entry, std::string_view where);
// A SQL expression for the head of the entry in column `entry` (e.g.
// "e.entry"), for decode_entry_head. It reads the number of chunk roots from
// a 25-byte prefix: get_byte() on the entry itself would fetch and
// decompress all of a big value, once per call. (The tables' own
// instadump.entry_head(entry) does that: 65 ms for a 5.8 MB value, against
// 0.6 ms. It is kept for builds that call it.)
std::string entry_head_sql(std::string_view entry);
// Decodes an entry's head (entry_head_sql), given the whole
// entry's length (length(entry)). Throws like decode_entry.
read_entry decode_entry_head(std::span<const std::byte> head, std::int64_t entry_bytes, std::string_view where);

}  // namespace instadump::replication

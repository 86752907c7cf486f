// The layout of one chunk (format 4): a node of a persistent collection,
// stored in the "chunks" database under its id. A chunk names its schema and
// the Cap'n Proto type of its payload, lists every chunk its payload refers
// to, and carries a checksum of all of it:
//
//   offset   size  what (little-endian)
//   0        8     XXH3-64 (seed 0) of bytes 8..end
//   8        8     the chunk's id (equals its key; checked on read)
//   16       8     schema fingerprint describing the payload
//   24       4     schema version
//   28       4     n = number of child chunk ids
//   32       8     the payload's root struct's Cap'n Proto type id
//   40       8n    child chunk ids: every chunk the payload refers to
//   40+8n    rest  payload: one Cap'n Proto segment, unframed (multiple of 8)
//
// The layout is part of the on-disk format (docs/FORMAT.md, "Chunks").
// Parsing treats its input as untrusted (tools/fuzz checks it never crashes)
// and reports damage as corrupt_data.
#pragma once

#include "instadump/capnp_compat.h"  // before any Cap'n Proto header

#include <capnp/common.h>
#include <kj/common.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "storage/snapshot_types.h"

namespace instadump::storage {

// Bytes before a chunk's child ids.
inline constexpr std::size_t kChunkHeaderBytes = 40;

// A chunk, parsed in place: views into the bytes it was parsed from.
struct chunk_view {
  std::uint64_t id = 0;
  schema_identity schema;
  std::uint64_t node_type = 0;              // the payload root struct's Cap'n Proto type id
  std::span<const std::uint64_t> children;  // every chunk the payload refers to
  kj::ArrayPtr<const capnp::word> payload;  // one segment, unframed
};

// The size of a chunk with `children` child ids and `payload_words` words of
// payload.
constexpr std::size_t chunk_bytes(std::size_t children, std::size_t payload_words) noexcept {
  return kChunkHeaderBytes + 8 * children + 8 * payload_words;
}

// Writes a chunk into `out`, which must be exactly chunk_bytes(children.size(),
// payload words) long: the header and children first
// (write_chunk_header), then -- by the caller, into chunk_payload(out) --
// the payload, then seal_chunk(out). This lets a payload be built in place,
// without a copy. REQUIRES: out.size() >= chunk_bytes(children.size(), 0).
void write_chunk_header(std::span<std::byte> out, std::uint64_t id, const schema_identity& schema,
                        std::uint64_t node_type, std::span<const std::uint64_t> children) noexcept;
// The payload's place in a chunk whose header write_chunk_header() wrote.
std::span<std::byte> chunk_payload(std::span<std::byte> chunk) noexcept;
// Computes the checksum of a chunk whose header and payload are written.
void seal_chunk(std::span<std::byte> chunk) noexcept;

// A whole chunk in one call: header, children, a copy of `payload`, checksum.
// The bytes are 8-byte aligned (as write_snapshot wants them).
std::vector<std::byte> encode_chunk(std::uint64_t id, const schema_identity& schema, std::uint64_t node_type,
                                    std::span<const std::uint64_t> children, kj::ArrayPtr<const capnp::word> payload);

// Parses and verifies a chunk: its size (a header, n child ids, whole words),
// its checksum, and that its id is `expected_id`. Throws corrupt_data naming
// chunk `expected_id` and `where` (what refers to it) when it is damaged.
// The view points into `bytes`. REQUIRES: bytes.data() is 8-byte aligned
// (throws storage_error otherwise: a bug of the caller).
chunk_view parse_chunk(std::span<const std::byte> bytes, std::uint64_t expected_id, const std::string& where);

// parse_chunk() without throwing: false, with what is wrong in `why` (for
// example "has checksum 5, but its header says 7"), when the chunk is not
// whole. REQUIRES: bytes.data() is 8-byte aligned.
bool verify_chunk(std::span<const std::byte> bytes, std::uint64_t expected_id, chunk_view& out, std::string& why);

// verify_chunk() except the checksum, for a chunk that seal_chunk() sealed
// in this process for the write at hand (hashing it again would only
// repeat what seal_chunk computed). Anything read from a file -- data.mdb,
// the journal, a copy -- goes through verify_chunk(). REQUIRES: as
// verify_chunk().
bool read_chunk_layout(std::span<const std::byte> bytes, std::uint64_t expected_id, chunk_view& out,
                       std::string& why);

// The id and children a chunk's header lists, without verifying its
// checksum (the writer reads every chunk's header when it opens a store);
// nothing when the header is cut short or lists more children than fit.
// `bytes` may have any alignment.
struct chunk_header {
  std::uint64_t id = 0;
  std::vector<std::uint64_t> children;
};
bool read_chunk_header(std::span<const std::byte> bytes, chunk_header& out);

}  // namespace instadump::storage

// Encoding and bounded decoding of the store's meta record (StoreMeta) and of
// the format 1 snapshot manifests (Manifest, in schemas/snapshot.capnp), and
// the reader limits used for every decode of stored bytes. Format 2 snapshot
// records are in record_codec.h.
//
// Decoders treat their input as untrusted: they never crash on arbitrary
// bytes (tools/fuzz/fuzz_snapshot_decode.cpp checks that) and report any
// problem as corrupt_data.
#pragma once

#include "instadump/capnp_compat.h"  // before any Cap'n Proto header

#include <capnp/common.h>
#include <capnp/message.h>
#include <kj/array.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "storage/snapshot_types.h"

namespace instadump::storage {

// Reader options for decoding `size_words` words of untrusted bytes: a
// traversal limit proportional to the size (size_words * 4 + 1024, capped so
// it cannot overflow) so crafted pointers cannot make a decode do more than
// linear work, and the nesting limit saves check values against
// (limits::nesting, 64). Thread-safe; never throws.
capnp::ReaderOptions reader_options_for(std::size_t size_words);

// The decoded StoreMeta record.
struct store_meta {
  std::uint32_t format_version = 0;
  std::int64_t created_unix_nanos = 0;
};

// Serializes a StoreMeta with magic "instadump". Never throws except
// std::bad_alloc.
kj::Array<capnp::word> encode_store_meta(const store_meta& meta);

// Decodes a StoreMeta. Throws corrupt_data (naming `where`) when the bytes are
// not a StoreMeta message or the magic is not "instadump". Does not check the
// format version: the caller decides what a newer version means.
store_meta decode_store_meta(std::span<const std::byte> bytes, const std::string& where);

// Serializes a format 1 Manifest for `snapshot` (what stores of format 1
// hold; this build writes them only as test fixtures).
kj::Array<capnp::word> encode_manifest(const snapshot_info& snapshot);

// Decodes a format 1 Manifest into a snapshot_info (total_bytes recomputed;
// every entry at offset 0 and framed, as format 1 stored values). Throws
// corrupt_data (naming `where`) when the bytes do not decode, the format
// version is not 1, or the entries are not sorted and unique by key.
snapshot_info decode_manifest(std::span<const std::byte> bytes, const std::string& where);

// A word-aligned view of bytes that may not be aligned (LMDB guarantees only
// 2-byte alignment of values): points at the bytes themselves when they are
// aligned, otherwise at an owned copy. REQUIRES: bytes.size() % 8 == 0.
class aligned_words {
 public:
  explicit aligned_words(std::span<const std::byte> bytes);
  kj::ArrayPtr<const capnp::word> words() const { return words_; }
  bool copied() const { return copy_.size() != 0; }

 private:
  kj::Array<capnp::word> copy_;
  kj::ArrayPtr<const capnp::word> words_;
};

}  // namespace instadump::storage

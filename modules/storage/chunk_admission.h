// The checks a write's chunks pass before anything is written, the same for
// a direct save (the writer) and a journaled one (checked when it is
// planned, so that writing it into data.mdb later never meets a chunk id
// that is not there): every new chunk is whole, has an id not used before,
// lists children with smaller ids that are new or stored, and is referred
// to; every chunk root of a value is new or stored.
//
// Internal to instadump_storage.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>
#include <vector>

#include "storage/chunk_ledger.h"
#include "storage/snapshot_types.h"

namespace instadump::storage {

// The chunk roots of one value of a write (its key names it in errors).
struct value_roots {
  std::string_view key;
  std::span<const std::uint64_t> roots;
};

// A write's new chunks, checked.
struct admitted_chunks {
  std::vector<chunk_links> links;                 // ascending ids
  std::vector<std::span<const std::byte>> bytes;  // the chunks, in the same order
  std::uint64_t next_chunk_id = 0;                // past the largest new id (or as given, with none)
  std::uint64_t total_bytes = 0;
};

// Checks `chunks` and the roots of `values` (those of a write that list
// any) against the chunks `stored` holds and the next free chunk id.
// Throws save_failed, naming the chunk or value, the store in `dir`, and
// what to do, when a chunk is malformed or not 8-byte aligned, has an id
// below `next_chunk_id` or given twice, lists a child whose id is not
// smaller than its own or that is neither new nor stored, or is referred to
// by no value's roots and no other new chunk; or when a value's root is
// neither new nor stored.
// With `sealed_here` (snapshot_delta::chunks_sealed_here) a chunk's
// checksum is not computed again: its layout, id and links are checked.
admitted_chunks admit_chunks(const chunk_ledger& stored, std::uint64_t next_chunk_id,
                             std::span<const new_chunk> chunks, std::span<const value_roots> values,
                             const std::filesystem::path& dir, bool sealed_here = false);

}  // namespace instadump::storage

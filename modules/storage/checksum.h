// Checksums of stored value bytes: XXH3-64 with seed 0.
//
// The checksum is part of the on-disk format (Entry.checksum in
// schemas/snapshot.capnp): changing the algorithm or seed needs a new
// format version.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace instadump::storage {

// Returns the XXH3-64 (seed 0) hash of `bytes`. Thread-safe; never throws.
std::uint64_t checksum_of(std::span<const std::byte> bytes) noexcept;

}  // namespace instadump::storage

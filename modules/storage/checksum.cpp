// XXH3-64 checksums of stored bytes (see checksum.h).
#include "storage/checksum.h"

#include <xxhash.h>

namespace instadump::storage {

std::uint64_t checksum_of(std::span<const std::byte> bytes) noexcept {
  return XXH3_64bits(bytes.data(), bytes.size());
}

}  // namespace instadump::storage

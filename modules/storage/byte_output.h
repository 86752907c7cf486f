// A kj::OutputStream that appends to a std::vector of bytes, for writing
// Cap'n Proto's packed encoding (capnp::writePackedMessage) into memory that
// the caller owns and sized beforehand.
//
// Internal to instadump_storage.
#pragma once

#include "instadump/capnp_compat.h"  // before any Cap'n Proto header

#include <kj/io.h>

#include <cstddef>
#include <vector>

namespace instadump::storage {

class byte_vector_output final : public kj::OutputStream {
 public:
  explicit byte_vector_output(std::vector<std::byte>& bytes) : bytes_(bytes) {}
  void write(const void* buffer, size_t size) override {
    const auto* p = static_cast<const std::byte*>(buffer);
    bytes_.insert(bytes_.end(), p, p + size);
  }

 private:
  std::vector<std::byte>& bytes_;
};

}  // namespace instadump::storage

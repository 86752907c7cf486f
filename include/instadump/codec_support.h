// Helpers shared by the codecs instadump-codegen generates.
//
// Every generated codec file includes this header instead of carrying its own
// copy of these functions. Not an API for hand-written code: names and
// signatures follow what the generator emits.
#pragma once

#include "instadump/capnp_compat.h"  // before any Cap'n Proto header

#include <capnp/blob.h>
#include <capnp/common.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

namespace instadump::codec_support {

// A decoding failure at a member path ("Item::kind"); the state's decoder
// adds the key.
struct decode_error : std::runtime_error {
  decode_error(const char* where, const std::string& what) : std::runtime_error(what), where(where) {}
  const char* where;
};

[[noreturn]] inline void fail(const char* where, const std::string& what) { throw decode_error(where, what); }

// The size of a list to encode; Cap'n Proto lists hold at most 2^29 - 1
// elements.
inline ::capnp::uint list_size(std::size_t n, const char* type) {
  if (n > (1u << 29) - 1) {
    throw std::length_error(std::string("instadump: cannot save a ") + type + " of " + std::to_string(n) +
                            " elements: Cap'n Proto lists hold at most 2^29 - 1");
  }
  return static_cast<::capnp::uint>(n);
}

inline std::string to_string(::capnp::Text::Reader t) { return std::string(t.begin(), t.size()); }

template <class Bytes>
Bytes to_bytes(::capnp::Data::Reader d) {
  Bytes out(d.size());
  if (d.size() != 0) std::memcpy(out.data(), d.begin(), d.size());
  return out;
}

// Refuses a value written with another schema than this build's.
template <class SchemaIdentity>
void check_schema(const SchemaIdentity& stored, std::uint64_t fingerprint, const char* key) {
  if (stored.fingerprint == fingerprint && stored.version == 1) return;
  char buf[200];
  std::snprintf(buf, sizeof buf, "%s: the snapshot holds schema %016llx v%u, this build reads %016llx v1", key,
                static_cast<unsigned long long>(stored.fingerprint), static_cast<unsigned>(stored.version),
                static_cast<unsigned long long>(fingerprint));
  throw std::runtime_error(std::string(buf) + ": the state's type changed since the snapshot was written, and "
                           "schema migration is not supported yet; restore the old type or start from an empty "
                           "directory");
}

}  // namespace instadump::codec_support

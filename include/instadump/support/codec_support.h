// Helpers shared by the codecs instadump-codegen generates.
//
// Every generated codec file includes this header instead of carrying its own
// copy of these functions. Not an API for hand-written code -- names and
// signatures follow what the generator emits -- except scalar_struct_words,
// which a hand-written state_codec::encode_words may use.
#pragma once

#include "instadump/capnp_compat.h"  // before any Cap'n Proto header

#include <capnp/common.h>

#include <bit>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <span>
#include <string>
#include <type_traits>

// The library's error types (installed with the runtime headers, which the
// instadump target puts on the include path).
#include "common/errors.h"

namespace instadump::codec_support {

// A decoding failure at a member path ("Item::kind"): the stored value is
// not one of the state's type (damaged, or written by a newer build). The
// state's decoder adds the key.
struct decode_error : ::instadump::corrupt_data {
  decode_error(const char* where, const std::string& what) : ::instadump::corrupt_data(what), where(where) {}
  const char* where;
};

[[noreturn]] inline void fail(const char* where, const std::string& what) { throw decode_error(where, what); }

// The size of a list to encode; Cap'n Proto lists hold at most 2^29 - 1
// elements. Throws save_failed, naming `type` and the size, for a longer one.
inline ::capnp::uint list_size(std::size_t n, const char* type) {
  if (n > (1u << 29) - 1) {
    throw ::instadump::save_failed(std::string("instadump: cannot save a ") + type + " of " + std::to_string(n) +
                                   " elements: Cap'n Proto lists hold at most 2^29 - 1");
  }
  return static_cast<::capnp::uint>(n);
}

// A Data field read from the message, as the C++ byte vector type `Bytes`.
template <class Bytes>
Bytes to_bytes(std::span<const std::byte> d) {
  Bytes out(d.size());
  if (d.size() != 0) std::memcpy(out.data(), d.data(), d.size());
  return out;
}

// The schema history version a value was written in, from the state's schema
// version stored with it: `history[v - 1]` is the newest history version
// that wrote state version v. A version this build does not know was written
// by a newer build whose type of this state cannot be read here: refused
// with load_failed (corrupt_data for version 0, which no build writes),
// naming `key` and both versions.
template <class SchemaIdentity>
unsigned history_version_of(const SchemaIdentity& stored, std::initializer_list<unsigned> history, const char* key) {
  unsigned current = static_cast<unsigned>(history.size());
  if (stored.version >= 1 && stored.version <= current) return history.begin()[stored.version - 1];
  char buf[120];
  std::snprintf(buf, sizeof buf, "%s: the snapshot holds schema version %u of this state, this build reads versions 1",
                key, static_cast<unsigned>(stored.version));
  std::string msg(buf);
  if (current > 1) msg += " to " + std::to_string(current);
  if (stored.version == 0) throw ::instadump::corrupt_data(msg + ": version 0 is not valid (damaged manifest?)");
  throw ::instadump::load_failed(msg + ": it was written by a newer build that changed the state's type incompatibly; "
                                 "run that build (or a later one), or open a snapshot this build wrote "
                                 "(setup_options::load_snapshot)");
}

// The encoding of a state whose root struct has data fields only (no
// pointers) and sets just one of them: the whole message as
// capnp::MessageBuilder would build it -- a struct pointer to the words right
// after it, then `data_words` words, zero but for `value` at `offset` (in
// units of its own size, bits for bool; fields have no defaults). Written
// into `out` (one segment, no segment table); returns the words written, or
// 0 when `out` is too short. Saves use it instead of a MessageBuilder (see
// state_codec::encode_words).
template <class Wire>
std::size_t scalar_struct_words(std::span<::capnp::word> out, unsigned data_words, unsigned offset, Wire value) {
  static_assert(std::is_arithmetic_v<Wire>);
  static_assert(std::endian::native == std::endian::little, "Cap'n Proto's encoding is little-endian");
  const std::size_t end_bit = (std::size_t{offset} + 1) * (std::is_same_v<Wire, bool> ? 1 : sizeof(Wire) * 8);
  if (out.size() < 1 + std::size_t{data_words} || end_bit > std::size_t{data_words} * 64) return 0;
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  const std::uint64_t root = std::uint64_t{data_words} << 32;  // offset 0, struct, data_words, no pointers
  std::memcpy(bytes, &root, sizeof root);
  std::memset(bytes + 8, 0, std::size_t{data_words} * 8);
  if constexpr (std::is_same_v<Wire, bool>) {
    if (value) bytes[8 + offset / 8] |= static_cast<unsigned char>(1u << (offset % 8));
  } else {
    std::memcpy(bytes + 8 + std::size_t{offset} * sizeof(Wire), &value, sizeof(Wire));
  }
  return 1 + std::size_t{data_words};
}

}  // namespace instadump::codec_support

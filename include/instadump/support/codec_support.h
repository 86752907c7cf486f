// Helpers shared by the codecs instadump-codegen generates.
//
// Every generated codec file includes this header instead of carrying its own
// copy of these functions. Not an API for hand-written code -- names and
// signatures follow what the generator emits -- except scalar_struct_words,
// which a hand-written state_codec::encode_words may use.
#pragma once

#include "instadump/capnp_compat.h"  // before any Cap'n Proto header

#include <capnp/any.h>
#include <capnp/blob.h>
#include <capnp/common.h>
#include <capnp/message.h>

#include <bit>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>

// The library's error types (installed with the runtime headers, which the
// instadump target puts on the include path).
#include "common/errors.h"
#include "common/limits.h"  // the ceilings saves check values against

namespace instadump::codec_support {

// A decoding failure at a member path ("Item::kind"): the stored value is
// not one of the state's type (damaged, or written by a newer build). The
// state's decoder adds the key.
struct decode_error : ::instadump::corrupt_data {
  decode_error(const char* where, const std::string& what) : ::instadump::corrupt_data(what), where(where) {}
  const char* where;
};

[[noreturn]] inline void fail(const char* where, const std::string& what) { throw decode_error(where, what); }

// A value beyond a ceiling of the stored format (common/limits.h), found
// while encoding it. The state's encoder, which knows the state, rethrows it
// as instadump::limit_exceeded (with refusal() as its message).
struct over_limit : std::length_error {
  over_limit(const std::string& what, std::uint64_t limit, std::uint64_t measured)
      : std::length_error(what), limit(limit), measured(measured) {}
  std::uint64_t limit;
  std::uint64_t measured;
};

// The message of the limit_exceeded that refuses to save state `key`.
inline std::string refusal(const char* key, const over_limit& e) {
  return std::string("instadump: cannot save ref '") + key + "': " + e.what() +
         " (README, \"Limits\"); nothing was written, the previous snapshots are intact";
}

[[noreturn, gnu::cold, gnu::noinline]] inline void refuse_length(const char* type, std::uint64_t n,
                                                                 std::uint64_t limit, const char* unit,
                                                                 const char* what) {
  throw over_limit(std::string("a ") + type + " of " + std::to_string(n) + " " + unit + " is longer than " + what +
                       " (at most " + std::to_string(limit) + ")",
                   limit, n);
}

// The size of a list to encode, a `type` ("std::vector") of `n` elements.
// Throws over_limit beyond what a Cap'n Proto list holds.
inline ::capnp::uint list_size(std::size_t n, const char* type) {
  if (n > limits::checked.list_elements) [[unlikely]] {
    refuse_length(type, n, limits::checked.list_elements, "elements", "a Cap'n Proto list can be");
  }
  return static_cast<::capnp::uint>(n);
}

// `s` as the Text field it is saved in. Throws over_limit beyond what a
// Text holds.
inline ::capnp::Text::Reader text_of(const std::string& s) {
  if (s.size() > limits::checked.text_bytes) [[unlikely]] {
    refuse_length("std::string", s.size(), limits::checked.text_bytes, "bytes", "a Cap'n Proto Text can be");
  }
  return ::capnp::Text::Reader(s.data(), s.size());
}

// The bytes `b` (a `type`, std::vector of a byte type) as the Data field
// they are saved in. Throws over_limit beyond what a Data holds.
template <class Bytes>
::capnp::Data::Reader data_of(const Bytes& b, const char* type) {
  if (b.size() > limits::checked.data_bytes) [[unlikely]] {
    refuse_length(type, b.size(), limits::checked.data_bytes, "bytes", "a Cap'n Proto Data can be");
  }
  return ::capnp::Data::Reader(reinterpret_cast<const ::kj::byte*>(b.data()), b.size());
}

// Keeps in `levels` the deepest nesting a value's parts took (the encoders
// of recursive types measure what they write; codegen/model/nesting.h).
[[gnu::always_inline]] inline void deepen(unsigned& levels, unsigned at) {
  if (at > levels) levels = at;
}

// Refuses a value that nests `levels` structs and lists (its root struct
// included), beyond what a load reads.
inline void check_nesting(unsigned levels) {
  if (levels > static_cast<unsigned>(limits::nesting)) [[unlikely]] {
    throw over_limit("the value nests structs and lists " + std::to_string(levels) +
                         " levels deep (its root struct included), and a load reads at most " +
                         std::to_string(limits::nesting) +
                         "; store a deep recursive value flattened, e.g. its nodes in a list that refer to "
                         "each other by index",
                     limits::nesting, levels);
  }
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

namespace detail {

inline std::uint64_t words_to_read(::capnp::AnyPointer::Reader p);

// The words a load reads of the struct `s` points to: its sections are
// read where it lies (in a list of structs: as part of the list).
inline std::uint64_t words_behind_pointers(::capnp::AnyStruct::Reader s) {
  std::uint64_t words = 0;
  for (auto p : s.getPointerSection()) words += words_to_read(p);
  return words;
}

// The words a load reads following `p`, as instadump/support/wire_reader.h charges
// them to its traversal budget: every struct and list its words, a list of
// elements of no words (an empty type) one word per element.
inline std::uint64_t words_to_read(::capnp::AnyPointer::Reader p) {
  switch (p.getPointerType()) {
    case ::capnp::PointerType::STRUCT: {
      auto s = p.getAs<::capnp::AnyStruct>();
      return s.getDataSection().size() / 8 + s.getPointerSection().size() + words_behind_pointers(s);
    }
    case ::capnp::PointerType::LIST: break;
    default: return 0;
  }
  auto list = p.getAs<::capnp::AnyList>();
  const std::uint64_t n = list.size();
  switch (list.getElementSize()) {
    case ::capnp::ElementSize::VOID: return n;
    case ::capnp::ElementSize::BIT: return (n + 63) / 64;
    case ::capnp::ElementSize::BYTE: return (n + 7) / 8;
    case ::capnp::ElementSize::TWO_BYTES: return (2 * n + 7) / 8;
    case ::capnp::ElementSize::FOUR_BYTES: return (4 * n + 7) / 8;
    case ::capnp::ElementSize::EIGHT_BYTES: return n;
    case ::capnp::ElementSize::POINTER: {
      std::uint64_t words = n;
      for (auto e : list.as<::capnp::List<::capnp::AnyPointer>>()) words += words_to_read(e);
      return words;
    }
    case ::capnp::ElementSize::INLINE_COMPOSITE: {
      std::uint64_t words = 0;
      for (auto e : list.as<::capnp::List<::capnp::AnyStruct>>()) {
        const std::uint64_t step = e.getDataSection().size() / 8 + e.getPointerSection().size();
        words += (step == 0 ? 1 : step) + words_behind_pointers(e);
      }
      return words;
    }
  }
  return 0;
}

}  // namespace detail

// Refuses the value in `message` when a load of it would read more words
// than the traversal budget its size gives (limits::traversal_words): a
// value holding lists of many elements of an empty type. Walks the message:
// generated only for states whose type holds such lists.
inline void check_traversal(::capnp::MessageBuilder& message) {
  auto root = message.getRoot<::capnp::AnyPointer>().asReader();
  const std::uint64_t stored = 1 + root.targetSize().wordCount;  // its one segment
  const std::uint64_t read = detail::words_to_read(root);
  const std::uint64_t budget = limits::traversal_words(stored);
  if (read > budget) [[unlikely]] {
    throw over_limit("a load of the value would read " + std::to_string(read) + " words, and a value of " +
                         std::to_string(stored) + " words may be read up to " + std::to_string(budget) +
                         " (4 per word, plus 1024): it holds too many elements of an empty type "
                         "(std::monostate, a struct without members) for its size",
                     budget, read);
  }
}

}  // namespace instadump::codec_support

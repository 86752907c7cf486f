// The ceilings of a stored value, in one place for the side that saves and
// the side that loads (README, "Limits").
//
// A save must never write what a load refuses: the loader reads each value
// with the nesting limit below, and Cap'n Proto's wire format cannot hold
// longer lists, texts or segments than these. Generated codecs
// (instadump/support/codec_support.h) and the library's encoder refuse a value
// beyond one of them at save, with instadump::limit_exceeded naming the ref;
// instadump-codegen refuses at build time a state whose type alone nests
// deeper than a load reads.
//
// A plain header (no Cap'n Proto, no module) so that instadump-codegen, the
// storage layer and generated code all include the same numbers.
#pragma once

#include <cstdint>

namespace instadump::limits {

// Structs and lists a load follows from the root of one value, the root
// struct included (capnp::ReaderOptions::nestingLimit of every value read,
// storage/manifest_codec.cpp). Text and Data do not count. Part of what a
// store promises to read: lowering it would make stored values unreadable.
inline constexpr int nesting = 64;

// Cap'n Proto counts list elements, blob bytes and segment words in 29 bits.
inline constexpr std::uint64_t list_elements = (std::uint64_t{1} << 29) - 1;
inline constexpr std::uint64_t data_bytes = (std::uint64_t{1} << 29) - 1;
inline constexpr std::uint64_t text_bytes = data_bytes - 1;  // a Text's bytes end with a NUL
// One stored value is one segment (docs/FORMAT.md): at most this many
// 8-byte words, about 4 GiB.
inline constexpr std::uint64_t value_words = (std::uint64_t{1} << 29) - 1;
// The words a load may read of a value stored in `words` words
// (capnp::ReaderOptions::traversalLimitInWords, storage/manifest_codec.cpp).
// Each word may be read a few times (far pointers, list tags), so 4x plus a
// constant for tiny messages; capped so that the product cannot overflow.
// What may exceed it: the elements of lists of an empty type (std::monostate,
// a struct without members) cost one word each to read and none to store,
// so that a few stored words cannot make a load build millions of values.
inline constexpr std::uint64_t traversal_words(std::uint64_t words) {
  constexpr std::uint64_t cap = std::uint64_t{1} << 47;
  return (words < cap ? words : cap) * 4 + 1024;
}

// A state's key is stored once, as an LMDB value (LMDB keys are 8-byte
// ids, so its 511-byte key limit never applies): at most 4 GiB - 1 bytes.
inline constexpr std::uint64_t key_bytes = 0xffffffff;

// What saves check: the ceilings above, unless a test lowered them to see a
// refusal without gigabytes of memory.
struct save_ceilings {
  std::uint64_t list_elements = limits::list_elements;
  std::uint64_t text_bytes = limits::text_bytes;
  std::uint64_t data_bytes = limits::data_bytes;
  std::uint64_t value_words = limits::value_words;
  std::uint64_t key_bytes = limits::key_bytes;
};

// Read by every save (generated codecs and the library). Tests only may
// change it (testing::lower), while no save runs; a value above a real
// ceiling is never accepted.
inline constinit save_ceilings checked{};

namespace testing {

// Makes saves refuse what is beyond `lowered` (each field at most the real
// ceiling); reset() restores the real ceilings. For tests only: not
// thread-safe against a running save.
inline void lower(const save_ceilings& lowered) {
  const save_ceilings real{};
  auto low = [](std::uint64_t a, std::uint64_t b) { return a < b ? a : b; };
  checked = {low(lowered.list_elements, real.list_elements), low(lowered.text_bytes, real.text_bytes),
             low(lowered.data_bytes, real.data_bytes), low(lowered.value_words, real.value_words),
             low(lowered.key_bytes, real.key_bytes)};
}
inline void reset() { checked = save_ceilings{}; }

}  // namespace testing
}  // namespace instadump::limits

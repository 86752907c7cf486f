// Encoding state values for a save: every value becomes one Cap'n Proto
// segment (what the store keeps: no segment table, and loads take the
// reader's fast path), built with as little memory and copying as the
// value's size allows.
//
// Small values -- the common case with many refs -- are built in a reused
// scratch segment and copied into shared chunks (no allocation each), or,
// when their codec writes their words itself (a scalar state), written
// straight into a chunk. A value whose size is not known yet is measured
// first, in memory that is given back to the kernel afterwards. A large value of known size is
// encoded straight into the room the store reserved in its pages
// (encode_in_place), so it is never held twice.
//
// Plain C++ (no module types): a value is encoded by a callback that fills a
// capnp::MessageBuilder, the state's codec.
#pragma once

#include "instadump/capnp_compat.h"
#include <capnp/message.h>
#include <kj/function.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace instadump::encoding {

// Fills a message with one value (a state's codec applied to the value).
using encode_fn = kj::FunctionParam<void(capnp::MessageBuilder&)>;

// Values this large whose size is known from the last save are encoded
// straight into the store's pages (no message buffer, no copy).
inline constexpr std::uint64_t kInPlaceBytes = 64 * 1024;

// Bytes of one segment for a value whose last encoding took `last_bytes`,
// when it is encoded in place: a little more, so that a value that grew a
// bit still fits (one that grew more is encoded again into the room it
// asks for). Not much more: the slack is on disk until the blob goes.
std::size_t room_for(std::uint64_t last_bytes);

// Zeroes `room` (8-byte aligned, a whole number of words) and encodes the
// value into it as one segment. Returns the bytes the value took, or -- when
// it does not fit -- more than room.size(): the room one segment needs
// (what new_value::fill_in_place returns). Throws limit_exceeded, naming
// `name`, when one segment cannot hold the value (limits::value_words).
std::size_t encode_in_place(encode_fn encode, std::span<std::byte> room, std::string_view name);

// Encodes the values one save writes into memory that lives as long as the
// encoder (until the save is written).
class value_encoder {
 public:
  value_encoder() = default;
  value_encoder(const value_encoder&) = delete;
  value_encoder& operator=(const value_encoder&) = delete;

  // The value's one segment; or, for a value that turned out to be at least
  // kInPlaceBytes large, none and its size in one segment: such a value is
  // best encoded in place (encode_in_place into room_for(large_bytes)).
  struct encoded {
    kj::ArrayPtr<const capnp::word> segment;
    std::size_t large_bytes = 0;
  };

  // `last_bytes`: the size of the value's last encoding (0 if unknown),
  // which sizes the first segment. `name` appears in errors. Throws
  // limit_exceeded when the value cannot be one segment
  // (limits::value_words, about 4 GiB).
  encoded encode(encode_fn encode, std::uint64_t last_bytes, std::string_view name);

  // A small value's one segment as `write` (a state codec's encode_words)
  // puts it into `max_words` words it is given; empty when it wrote none.
  using words_fn = kj::FunctionParam<std::size_t(std::span<capnp::word>)>;
  kj::ArrayPtr<const capnp::word> encode_words(words_fn write, std::size_t max_words);

 private:
  // `words` free words at the end of the current chunk (a new one if needed).
  capnp::word* room(std::size_t words);
  kj::ArrayPtr<const capnp::word> keep(kj::ArrayPtr<const capnp::word> words);

  kj::Array<capnp::word> scratch_;
  std::vector<kj::Array<capnp::word>> chunks_;  // moving the vector leaves the words in place
  std::size_t chunk_used_ = 0;
  std::vector<std::unique_ptr<capnp::MallocMessageBuilder>> large_;
};

}  // namespace instadump::encoding

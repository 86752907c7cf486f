// A Cap'n Proto reader over the words of one stored value: a message in the
// standard framing (format 1 values, entry_info::framed) or a single
// unframed segment (what format 2 writes).
#pragma once

#include "instadump/capnp_compat.h"  // before any Cap'n Proto header

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <optional>

namespace instadump::storage {

class value_message {
 public:
  // REQUIRES: `words` outlives this object. Throws kj::Exception when framed
  // words do not start with a valid segment table.
  value_message(kj::ArrayPtr<const capnp::word> words, bool framed, const capnp::ReaderOptions& options)
      : segment_{words} {
    if (framed) {
      flat_.emplace(words, options);
    } else {
      single_.emplace(kj::arrayPtr(segment_, 1), options);
    }
  }
  value_message(const value_message&) = delete;
  value_message& operator=(const value_message&) = delete;

  capnp::MessageReader& reader() {
    if (flat_) return *flat_;
    return *single_;
  }

 private:
  kj::ArrayPtr<const capnp::word> segment_[1];
  std::optional<capnp::FlatArrayMessageReader> flat_;
  std::optional<capnp::SegmentArrayMessageReader> single_;
};

}  // namespace instadump::storage

// Hand-written state registrations for the persistence tests: what
// instadump-codegen generates, written out for a few simple types.
#pragma once

#include "instadump/capnp_compat.h"
#include <capnp/message.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "test_state.capnp.h"

import instadump;

namespace test_state {

inline constexpr instadump::schema_identity int64_schema{0x11110000aaaa0001ull, 1};
inline constexpr instadump::schema_identity text_schema{0x22220000bbbb0001ull, 1};

inline void encode_long(const long& v, capnp::MessageBuilder& m) { m.initRoot<Int64Value>().setValue(v); }
inline long decode_long(capnp::MessageReader& m, const instadump::schema_identity& stored) {
  if (stored.fingerprint != int64_schema.fingerprint) throw std::runtime_error("not an Int64Value");
  return m.getRoot<Int64Value>().getValue();
}
inline void encode_text(const std::string& v, capnp::MessageBuilder& m) {
  m.initRoot<TextValue>().setValue(capnp::Text::Reader(v.data(), v.size()));
}
inline std::string decode_text(capnp::MessageReader& m, const instadump::schema_identity& stored) {
  if (stored.fingerprint != text_schema.fingerprint) throw std::runtime_error("not a TextValue");
  auto t = m.getRoot<TextValue>().getValue();
  return std::string(t.begin(), t.size());
}

inline constexpr instadump::state_codec<long> long_codec{&encode_long, &decode_long};
inline constexpr instadump::state_codec<std::string> text_codec{&encode_text, &decode_text};

}  // namespace test_state

// The codec of the benchmarks' state (a), 1,000 refs registered at run time
// (so written by hand, as a user registering refs without the codegen
// would). State (b) is in product.h / product_state.cpp, with a generated
// codec.
#pragma once

#include "instadump/capnp_compat.h"
#include <capnp/message.h>

#include "bench_state.capnp.h"
#include "instadump/support/codec_support.h"

#include <cstdint>
#include <span>

import instadump;

namespace bench {

inline void encode_long(const long& v, capnp::MessageBuilder& m) { m.initRoot<Int64Value>().setValue(v); }
inline long decode_long(capnp::MessageReader& m, const instadump::schema_identity&) {
  return m.getRoot<Int64Value>().getValue();
}

inline constexpr instadump::schema_identity long_schema{0x4040000000000001ull, 1};
// The value's words without a MessageBuilder: what instadump-codegen
// generates for a state of type long.
inline std::size_t long_words(const long& v, std::span<capnp::word> out) {
  return instadump::codec_support::scalar_struct_words<std::int64_t>(out, 1, 0, v);
}

inline constexpr instadump::state_codec<long> long_codec{&encode_long, &decode_long, &long_words};

}  // namespace bench

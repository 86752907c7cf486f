// The state type of decode_errors_test.cpp: an enum, a variant and a
// fixed-size array, the members a damaged message can make invalid.
#pragma once

#include <array>
#include <string>
#include <variant>

#include "instadump/capnp_compat.h"
#include <capnp/message.h>

import instadump;

namespace bad {

enum class mode { idle, busy };

struct record {
  mode m = mode::idle;
  std::variant<int, std::string> v;
  std::array<int, 2> pair{};
};

// The generated codec of bad::value, reached through decode_errors_states.cpp.
void encode(const record& value, capnp::MessageBuilder& message);
record decode(capnp::MessageReader& message, const instadump::schema_identity& stored);

}  // namespace bad

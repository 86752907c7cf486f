// The state type of decode_errors_test.cpp: an enum, a variant, a
// fixed-size array and a map keyed by the enum, the members a damaged
// message can make invalid.
#pragma once

#include <array>
#include <map>
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
  std::map<mode, int> counts;
};

// The generated codec of bad::value, reached through decode_errors_states.cpp.
void encode(const record& value, capnp::MessageBuilder& message);
record decode(capnp::MessageReader& message, const instadump::schema_identity& stored);

}  // namespace bad

// Defines the state bad::value and hands its generated codec to
// decode_errors_test.cpp. The generated functions are internal to this
// translation unit and defined at its end (see instadump_add_state): they are
// declared here so that bad::encode/decode can forward to them.
#include "bad_types.h"

namespace bad {
[[instadump::state]] instadump::ref<record> value;
}  // namespace bad

namespace {
namespace instadump_generated {
void encode_state_bad__value(const bad::record& v, ::capnp::MessageBuilder& message);
bad::record decode_state_bad__value(::capnp::MessageReader& message, const ::instadump::schema_identity& stored);
}  // namespace instadump_generated
}  // namespace

void bad::encode(const record& value, capnp::MessageBuilder& message) {
  instadump_generated::encode_state_bad__value(value, message);
}

bad::record bad::decode(capnp::MessageReader& message, const instadump::schema_identity& stored) {
  return instadump_generated::decode_state_bad__value(message, stored);
}

#include "instadump_stub.h"
union Raw { int i; float f; };
struct Packet {
  Raw raw;  // expect-error: cannot persist net::packet → Packet::raw: unions are not supported (the active member is unknown); use std::variant
};
namespace net {
[[instadump::state]] instadump::ref<Packet> packet;
}

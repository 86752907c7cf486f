// Hand-written state registrations for the persistence tests: what
// instadump-codegen generates, written out for a few simple types.
#pragma once

#include "instadump/capnp_compat.h"
#include <capnp/message.h>

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

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

// A pmap state (saved node by node): Int64Map, keys and values side by side.
using int64_map = instadump::pmap<std::int64_t, std::int64_t>;
inline constexpr instadump::schema_identity map_schema{0x44440000cccc0001ull, 1};

// Any ordered map of int64 to int64 (a std::map written by an older release
// too) into an Int64Map, wherever it is in the message.
template <typename Map>
inline void write_int64_map(const Map& m, ::Int64Map::Builder b) {
  auto keys = b.initKeys(static_cast<unsigned>(m.size()));
  auto values = b.initValues(static_cast<unsigned>(m.size()));
  unsigned i = 0;
  for (const auto& [k, v] : m) {
    keys.set(i, k);
    values.set(i, v);
    ++i;
  }
}
// Calls add(key, value) for each entry of an Int64Map.
template <typename Add>
inline void read_int64_map(::Int64Map::Reader r, Add&& add) {
  auto keys = r.getKeys();
  auto values = r.getValues();
  if (keys.size() != values.size()) throw std::runtime_error("keys and values differ in number");
  for (unsigned i = 0; i < keys.size(); ++i) add(keys[i], values[i]);
}
template <typename Map>
inline void encode_int64_map(const Map& m, capnp::MessageBuilder& message) {
  write_int64_map(m, message.initRoot<::Int64Map>());
}
inline void encode_map(const int64_map& m, capnp::MessageBuilder& message) { encode_int64_map(m, message); }
inline int64_map decode_map(capnp::MessageReader& message, const instadump::schema_identity& stored) {
  if (stored.fingerprint != map_schema.fingerprint) throw std::runtime_error("not an Int64Map");
  auto t = int64_map().transient();
  read_int64_map(message.getRoot<::Int64Map>(), [&](std::int64_t k, std::int64_t v) { t.insert(k, v); });
  return std::move(t).persistent();
}
inline constexpr instadump::state_codec<int64_map> map_codec{&encode_map, &decode_map};

// A struct state whose pmap member is stored node by node: Holder, with
// chunked_members<holder> written by hand below (what instadump-codegen
// writes for generated codecs).
struct holder {
  std::int64_t tick = 0;
  int64_map numbers;
  friend bool operator==(const holder&, const holder&) = default;
};
inline constexpr instadump::schema_identity holder_schema{0x44440000cccc0007ull, 1};

// An Int64Map (a member of a message) as a pmap.
inline int64_map read_map_member(::Int64Map::Reader r) {
  auto t = int64_map().transient();
  read_int64_map(r, [&](std::int64_t k, std::int64_t v) { t.insert(k, v); });
  return std::move(t).persistent();
}

inline void encode_holder(const holder& h, capnp::MessageBuilder& message) {
  auto b = message.initRoot<::Holder>();
  b.setTick(h.tick);
  write_int64_map(h.numbers, b.initNumbers());
}
inline holder decode_holder(capnp::MessageReader& message, const instadump::schema_identity& stored) {
  if (stored.fingerprint != holder_schema.fingerprint) throw std::runtime_error("not a Holder");
  auto r = message.getRoot<::Holder>();
  return holder{r.getTick(), read_map_member(r.getNumbers())};
}
inline constexpr instadump::state_codec<holder> holder_codec{&encode_holder, &decode_holder};

// A struct state with two pmap members stored node by node, one of them in
// a member struct: TwoMaps.
struct two_maps {
  struct inner_maps {
    int64_map second;
    friend bool operator==(const inner_maps&, const inner_maps&) = default;
  };
  int64_map first;
  inner_maps inner;
  friend bool operator==(const two_maps&, const two_maps&) = default;
};
inline constexpr instadump::schema_identity two_maps_schema{0x44440000cccc0008ull, 1};

inline void encode_two_maps(const two_maps& v, capnp::MessageBuilder& message) {
  auto b = message.initRoot<::TwoMaps>();
  write_int64_map(v.first, b.initFirst());
  write_int64_map(v.inner.second, b.initInner().initSecond());
}
inline two_maps decode_two_maps(capnp::MessageReader& message, const instadump::schema_identity& stored) {
  if (stored.fingerprint != two_maps_schema.fingerprint) throw std::runtime_error("not a TwoMaps");
  auto r = message.getRoot<::TwoMaps>();
  return two_maps{read_map_member(r.getFirst()), {read_map_member(r.getInner().getSecond())}};
}
inline constexpr instadump::state_codec<two_maps> two_maps_codec{&encode_two_maps, &decode_two_maps};

}  // namespace test_state

template <>
struct instadump::chunked_members<test_state::two_maps> {
  using members = std::tuple<instadump::member_path<&test_state::two_maps::first>,
                             instadump::member_path<&test_state::two_maps::inner,
                                                    &test_state::two_maps::inner_maps::second>>;
  static constexpr std::array<std::string_view, 2> paths = {"first", "inner.second"};
};

template <>
struct instadump::chunked_members<test_state::holder> {
  using members = std::tuple<instadump::member_path<&test_state::holder::numbers>>;
  static constexpr std::array<std::string_view, 1> paths = {"numbers"};
};


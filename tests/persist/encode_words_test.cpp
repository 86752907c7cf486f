// state_codec::encode_words: codec_support::scalar_struct_words writes what a
// MessageBuilder builds, and a save uses a codec's words only where they are
// what its encode builds.
#include <catch2/catch.hpp>

#include "instadump/capnp_compat.h"  // before any Cap'n Proto header
#include <capnp/message.h>
#include <capnp/schema.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <span>
#include <string>

#include "instadump/support/codec_support.h"
#include "temp_dir.h"
#include "test_state.h"

import instadump;

namespace {

using instadump::codec_support::scalar_struct_words;

// For each value: Scalars with only field `name` set to it, built by
// Cap'n Proto and by scalar_struct_words, byte for byte.
template <class Wire, class Set>
void check_field(const char* name, std::initializer_list<Wire> values, Set set) {
  const capnp::StructSchema schema = capnp::Schema::from<::Scalars>();
  const auto layout = schema.getProto().getStruct();
  REQUIRE(layout.getPointerCount() == 0);
  const unsigned offset = schema.getFieldByName(name).getProto().getSlot().getOffset();
  for (Wire v : values) {
    INFO(name << " = " << +v);
    capnp::MallocMessageBuilder message;
    set(message.initRoot<::Scalars>(), v);
    const auto segments = message.getSegmentsForOutput();
    REQUIRE(segments.size() == 1);
    std::array<capnp::word, 8> out;
    std::memset(out.data(), 0xa5, sizeof out);  // the words must all be written, zeros too
    const std::size_t n = scalar_struct_words<Wire>(out, layout.getDataWordCount(), offset, v);
    REQUIRE(n == segments[0].size());
    CHECK(std::memcmp(out.data(), segments[0].begin(), n * sizeof(capnp::word)) == 0);
  }
}

}  // namespace

TEST_CASE("scalar_struct_words writes what a MessageBuilder builds, for each width and place", "[persist]") {
  using S = ::Scalars::Builder;
  check_field<std::int32_t>("mid", {0, -1, std::numeric_limits<std::int32_t>::min(), 123456},
                            [](S s, std::int32_t v) { s.setMid(v); });
  check_field<bool>("flag", {false, true}, [](S s, bool v) { s.setFlag(v); });
  check_field<bool>("other", {false, true}, [](S s, bool v) { s.setOther(v); });
  check_field<std::int64_t>("wide", {0, -1, std::numeric_limits<std::int64_t>::min()},
                            [](S s, std::int64_t v) { s.setWide(v); });
  check_field<float>("ratio", {0.0f, -0.0f, std::numeric_limits<float>::infinity(), 1.5f},
                     [](S s, float v) { s.setRatio(v); });
  check_field<std::int8_t>("tiny", {0, -1, 127, -128}, [](S s, std::int8_t v) { s.setTiny(v); });
  check_field<std::uint16_t>("small", {0, 1, 65535}, [](S s, std::uint16_t v) { s.setSmall(v); });
  check_field<double>("precise", {0.0, -0.0, std::numeric_limits<double>::quiet_NaN(), 1e-310},
                      [](S s, double v) { s.setPrecise(v); });
  check_field<std::uint64_t>("huge", {0, std::numeric_limits<std::uint64_t>::max()},
                             [](S s, std::uint64_t v) { s.setHuge(v); });
}

TEST_CASE("scalar_struct_words refuses room too short and places outside the data words", "[persist]") {
  std::array<capnp::word, 8> out{};
  CHECK(scalar_struct_words<std::int64_t>(std::span(out).first(1), 1, 0, 5) == 0);
  CHECK(scalar_struct_words<std::int64_t>(out, 1, 1, 5) == 0);  // word 1 of a 1-word section
  CHECK(scalar_struct_words<std::int32_t>(out, 1, 2, 5) == 0);
  CHECK(scalar_struct_words<bool>(out, 1, 64, true) == 0);
  CHECK(scalar_struct_words<bool>(out, 1, 63, true) == 2);
}

namespace {

// Hand-written codecs of a long: words that are right, words that are not
// (a codec bug), and none.
std::size_t right_words(const long& v, std::span<capnp::word> out) { return scalar_struct_words<std::int64_t>(out, 1, 0, v); }
std::size_t wrong_words(const long& v, std::span<capnp::word> out) {
  return scalar_struct_words<std::int64_t>(out, 1, 0, v + 1);
}
std::size_t no_words(const long&, std::span<capnp::word>) { return 0; }

}  // namespace

TEST_CASE("a save writes a codec's words only when they are what its encode builds", "[persist]") {
  test_util::temp_dir dir;
  instadump::shutdown();
  instadump::ref<long> right{1}, wrong{2}, none{3};
  instadump::state_registration<long> right_reg(
      right, "words::right", test_state::int64_schema,
      instadump::state_codec<long>{&test_state::encode_long, &test_state::decode_long, &right_words});
  instadump::state_registration<long> wrong_reg(
      wrong, "words::wrong", test_state::int64_schema,
      instadump::state_codec<long>{&test_state::encode_long, &test_state::decode_long, &wrong_words});
  instadump::state_registration<long> none_reg(
      none, "words::none", test_state::int64_schema,
      instadump::state_codec<long>{&test_state::encode_long, &test_state::decode_long, &no_words});
  instadump::setup(dir.db());
  for (long round = 0; round < 3; ++round) {
    instadump::dosync([&] {
      right.set(-100 - round);
      wrong.set(200 + round);
      none.set(300 + round);
    });
    const instadump::save_result saved = instadump::save_all();
    CHECK(saved.refs_written >= 3);
    CHECK(saved.refs_written_as_words == 1);  // `right` only
    instadump::dosync([&] {
      right.set(0);
      wrong.set(0);
      none.set(0);
    });
    instadump::reload_all();
    CHECK(right.deref() == -100 - round);
    CHECK(wrong.deref() == 200 + round);  // encode's bytes, not the wrong words
    CHECK(none.deref() == 300 + round);
  }
  instadump::shutdown();
  instadump::dosync([&] { right.set(0); });
  instadump::setup(dir.db());  // a new setup loads what the words wrote
  CHECK(right.deref() == -102);
  instadump::shutdown();
}

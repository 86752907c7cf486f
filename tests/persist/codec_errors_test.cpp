// The errors of the helpers generated codecs use (instadump/support/codec_support.h,
// instadump/support/wire_reader.h) and of the session's own checks: instadump errors
// of the kind that says what to do, naming the offending value.
#include <catch2/catch.hpp>

#include "instadump/capnp_compat.h"  // before any Cap'n Proto header
#include <capnp/message.h>
#include <capnp/serialize.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "common/errors.h"
#include "instadump/support/codec_support.h"
#include "instadump/support/wire_reader.h"
#include "temp_dir.h"

import instadump;

using Catch::Contains;
namespace codec = instadump::codec_support;

TEST_CASE("a list too long for Cap'n Proto fails the save, naming its type and length", "[persist][errors]") {
  CHECK(codec::list_size((std::size_t{1} << 29) - 1, "std::vector<int>") == (1u << 29) - 1);
  CHECK_THROWS_AS(codec::list_size(std::size_t{1} << 29, "std::vector<int>"), instadump::save_failed);
  CHECK_THROWS_WITH(codec::list_size(std::size_t{1} << 29, "std::vector<int>"),
                    Contains("std::vector<int> of 536870912 elements"));
}

TEST_CASE("a stored schema version this build does not know fails the load, naming the state and versions",
          "[persist][errors]") {
  const auto history = {1u, 1u, 2u};
  CHECK(codec::history_version_of(instadump::schema_identity{7, 3}, history, "shop::orders") == 2);
  CHECK_THROWS_AS(codec::history_version_of(instadump::schema_identity{7, 4}, history, "shop::orders"),
                  instadump::load_failed);
  CHECK_THROWS_WITH(codec::history_version_of(instadump::schema_identity{7, 4}, history, "shop::orders"),
                    Contains("shop::orders: the snapshot holds schema version 4 of this state, this build reads "
                             "versions 1 to 3"));
  // No build writes version 0: damaged.
  CHECK_THROWS_AS(codec::history_version_of(instadump::schema_identity{7, 0}, history, "shop::orders"),
                  instadump::corrupt_data);
}

TEST_CASE("a member that does not decode is corrupt data, with its path", "[persist][errors]") {
  try {
    codec::fail("Item::kind", "enumerant 7 is not a value of kind");
    FAIL("fail() returned");
  } catch (const instadump::corrupt_data& e) {
    CHECK(std::string(e.what()) == "enumerant 7 is not a value of kind");
    CHECK(std::string(dynamic_cast<const codec::decode_error&>(e).where) == "Item::kind");
  }
}

TEST_CASE("a message that breaks the wire format is corrupt data, saying how", "[persist][errors]") {
  // A root struct pointer 100 words past the end of its one-word segment.
  const std::array<std::uint64_t, 1> words{std::uint64_t{100} << 2};
  const std::array<kj::ArrayPtr<const capnp::word>, 1> segments{
      kj::arrayPtr(reinterpret_cast<const capnp::word*>(words.data()), words.size())};
  capnp::SegmentArrayMessageReader message(kj::arrayPtr(segments.data(), segments.size()));
  instadump::wire::message_reader wire(message);
  CHECK_THROWS_AS(wire.root(), instadump::corrupt_data);
  CHECK_THROWS_WITH(wire.root(), Contains("outside its segment"));
}

TEST_CASE("setup refuses keep_generations 0 as an invalid option, naming it", "[persist][errors]") {
  test_util::temp_dir dir;
  instadump::shutdown();
  instadump::setup_options options;
  options.keep_generations = 0;
  CHECK_THROWS_AS(instadump::setup(dir.db(), options), instadump::invalid_option);
  CHECK_THROWS_WITH(instadump::setup(dir.db(), options), Contains("keep_generations is 0"));
  CHECK_FALSE(instadump::is_setup());
}

// The generated decoders on bad input: an enumerant out of range, a variant
// alternative or a map key that is not one, a repeated map key, a wrong
// std::array length, a newer schema version and a message of another shape
// each throw a std::exception naming the state and the member path; nothing
// crashes; a repeated key of a stored pmap or pset is refused. Also
// instadump::check_value_decodes, which runs them on bytes. This file is not scanned (it includes the generated schema
// header, which the scan must not depend on); the state and its codec come
// from decode_errors_states.cpp.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "bad_types.h"
#include "codegen_roundtrip_test.capnp.h"  // after bad_types.h: Cap'n Proto's C++20 compat header first
#include <capnp/schema.h>
#include <capnp/serialize.h>
#include "test_dir.h"

import instadump;

namespace {

using root = instadump_schema::codegen_roundtrip_test::BadValueState;

std::string stored_schema_text;

// This build's schema identity of state `key`, as the store records it (and
// the schema text stored with it, in stored_schema_text).
instadump::schema_identity stored_identity(const char* key = "bad::value") {
  test_util::scratch_dir dir;
  instadump::shutdown();
  instadump::setup(dir.path());
  instadump::save_all();
  instadump::schema_identity id{};
  auto snapshots = instadump::snapshots();
  for (auto& e : snapshots.front().entries) {
    if (e.key == key) id = e.schema;
  }
  stored_schema_text = instadump::stored_schema(id.fingerprint).value_or("(none)");
  instadump::shutdown();
  return id;
}

std::vector<std::byte> bytes_of(capnp::MallocMessageBuilder& m) {
  auto words = capnp::messageToFlatArray(m);
  auto b = words.asBytes();
  return std::vector<std::byte>(reinterpret_cast<const std::byte*>(b.begin()), reinterpret_cast<const std::byte*>(b.end()));
}

std::string decode_error(capnp::MallocMessageBuilder& message, instadump::schema_identity id) {
  capnp::SegmentArrayMessageReader reader(message.getSegmentsForOutput());
  try {
    bad::decode(reader, id);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("generated decoders reject bad data with the member path", "[codegen]") {
  instadump::schema_identity id = stored_identity();
  REQUIRE(id.fingerprint != 0);
  CHECK(id.version == 1);
  // The schema describing the stored bytes travels with them.
  CHECK_THAT(stored_schema_text, Catch::Contains("struct BadValueState {") && Catch::Contains("enum BadMode {") &&
                                     Catch::Contains("pair @2 :List(Int32);"));

  capnp::MallocMessageBuilder good;
  bad::encode(bad::record{}, good);
  CHECK(decode_error(good, id) == "(no error)");

  SECTION("enumerant out of range") {
    capnp::MallocMessageBuilder m;
    bad::encode(bad::record{}, m);
    m.getRoot<root>().getValue().setM(static_cast<instadump_schema::codegen_roundtrip_test::BadMode>(7));
    CHECK(decode_error(m, id) == "bad::value \u2192 record::m: enumerant 7 is not a value of bad::mode (it has 2; written by a newer build?)");
  }
  SECTION("std::array of the wrong length") {
    capnp::MallocMessageBuilder m;
    bad::encode(bad::record{}, m);
    m.getRoot<root>().getValue().initPair(3);
    CHECK(decode_error(m, id) == "bad::value \u2192 record::pair: expected a std::array of 2 elements, found 3");
  }
  SECTION("a variant alternative the type does not have") {
    // Cap'n Proto's setters only write known alternatives: the union's
    // discriminant is written into the struct's data section directly.
    using variant_struct = instadump_schema::codegen_roundtrip_test::VariantInt32Text;
    capnp::MallocMessageBuilder m;
    bad::encode(bad::record{}, m);
    const auto offset = capnp::Schema::from<variant_struct>().getProto().getStruct().getDiscriminantOffset();
    auto data = capnp::toAny(m.getRoot<root>().getValue().getV()).getDataSection();
    REQUIRE(data.size() >= 2 * offset + 2);
    data[2 * offset] = 5;  // little-endian 16 bits: alternative 5 of 2
    data[2 * offset + 1] = 0;
    CHECK(decode_error(m, id) == "bad::value \u2192 record::v: unknown std::variant alternative 5");
  }
  SECTION("a map key that is not a value of its type") {
    capnp::MallocMessageBuilder m;
    bad::encode(bad::record{{}, {}, {}, {{bad::mode::busy, 1}}}, m);
    m.getRoot<root>().getValue().getCounts()[0].setKey(
        static_cast<instadump_schema::codegen_roundtrip_test::BadMode>(7));
    CHECK(decode_error(m, id) == "bad::value \u2192 record::counts: enumerant 7 is not a value of bad::mode (it has 2; "
                                 "written by a newer build?)");
  }
  SECTION("a map key that appears twice") {
    capnp::MallocMessageBuilder m;
    bad::encode(bad::record{{}, {}, {}, {{bad::mode::idle, 1}, {bad::mode::busy, 2}}}, m);
    m.getRoot<root>().getValue().getCounts()[1].setKey(instadump_schema::codegen_roundtrip_test::BadMode::IDLE);
    CHECK(decode_error(m, id) == "bad::value \u2192 record::counts: duplicate key in a map at index 1");
  }
  SECTION("another fingerprint of the same schema version reads (a compatible change)") {
    CHECK(decode_error(good, {id.fingerprint ^ 1, 1}) == "(no error)");
  }
  SECTION("a newer schema version of the state is refused") {
    CHECK(decode_error(good, {id.fingerprint, 2}) ==
          "bad::value: the snapshot holds schema version 2 of this state, this build reads versions 1: it was "
          "written by a newer build that changed the state's type incompatibly; run that build (or a later one), "
          "or open a snapshot this build wrote (setup_options::load_snapshot)");
  }
  SECTION("schema version 0 does not exist") {
    CHECK_THAT(decode_error(good, {id.fingerprint, 0}), Catch::Contains("version 0 is not valid"));
  }
  SECTION("not a message of this schema at all") {
    capnp::MallocMessageBuilder m;
    auto list = m.initRoot<capnp::AnyPointer>().initAs<capnp::List<capnp::Text>>(1);
    list.set(0, "x");
    CHECK_THAT(decode_error(m, id), Catch::StartsWith("bad::value: malformed data"));
  }
}

TEST_CASE("check_value_decodes runs a state's decoder on stored bytes without touching it", "[codegen]") {
  instadump::schema_identity id = stored_identity();
  capnp::MallocMessageBuilder good;
  bad::encode(bad::record{}, good);
  CHECK_NOTHROW(instadump::check_value_decodes("bad::value", bytes_of(good), id));

  capnp::MallocMessageBuilder m;
  bad::encode(bad::record{}, m);
  m.getRoot<root>().getValue().setM(static_cast<instadump_schema::codegen_roundtrip_test::BadMode>(7));
  CHECK_THROWS_MATCHES(instadump::check_value_decodes("bad::value", bytes_of(m), id), instadump::load_failed,
                       Catch::Matchers::Message("instadump: the value of ref 'bad::value' does not decode (bad::value "
                                                "\u2192 record::m: enumerant 7 is not a value of bad::mode (it has 2; "
                                                "written by a newer build?))"));
  std::vector<std::byte> garbage(40, std::byte{0xff});
  CHECK_THROWS_AS(instadump::check_value_decodes("bad::value", garbage, id), instadump::load_failed);
  CHECK_THROWS_AS(instadump::check_value_decodes("bad::value", {}, id), instadump::load_failed);
  CHECK_THROWS_WITH(instadump::check_value_decodes("no::such_state", bytes_of(good), id),
                    Catch::Contains("no state is registered under the key 'no::such_state'"));
}

TEST_CASE("a stored pmap or pset with a repeated key is refused, naming the state", "[codegen]") {
  namespace schema = instadump_schema::codegen_roundtrip_test;
  const instadump::schema_identity words_id = stored_identity("pc::words");
  capnp::MallocMessageBuilder words;
  auto list = words.initRoot<schema::PcWordsState>().initValue(3);
  list.set(0, "a");
  list.set(1, "b");
  list.set(2, "a");  // out of order, and repeated
  CHECK_THROWS_MATCHES(instadump::check_value_decodes("pc::words", bytes_of(words), words_id), instadump::load_failed,
                       Catch::Matchers::Message("instadump: the value of ref 'pc::words' does not decode (pc::words: "
                                                "duplicate element in a pset at index 2)"));
  list.set(2, "0");  // out of order only: inserted
  CHECK_NOTHROW(instadump::check_value_decodes("pc::words", bytes_of(words), words_id));

  const instadump::schema_identity players_id = stored_identity("pc::players");
  capnp::MallocMessageBuilder players;
  auto entries = players.initRoot<schema::PcPlayersState>().initValue(2);
  entries[0].setKey(4);
  entries[1].setKey(4);
  CHECK_THROWS_WITH(instadump::check_value_decodes("pc::players", bytes_of(players), players_id),
                    Catch::Contains("pc::players") && Catch::Contains("duplicate key in a pmap at index 1"));
}

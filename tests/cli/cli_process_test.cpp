// The `instadump` tool against damaged stores, mismatched schemas and a
// writer saving continuously in another process (see programs.h), and a
// struct value whose members are stored node by node, made by hand.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "instadump/capnp_compat.h"  // before any Cap'n Proto header

#include <capnp/any.h>
#include <capnp/message.h>

#include "programs.h"
#include "storage/chunk_format.h"
#include "storage/chunked_members_codec.h"
#include "storage/snapshot_store.h"

namespace {

namespace fs = std::filesystem;
using clitest::program_result;
using clitest::tool;

// A fresh scratch directory per test.
fs::path scratch(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("instadump-cli-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string states() { return CLI_STATES_PATH; }

// Replaces every occurrence of `from` in `path` by `to` (same length);
// returns how many it replaced.
int patch_file(const fs::path& path, const std::string& from, const std::string& to) {
  std::string bytes = clitest::read_file(path);
  int n = 0;
  for (std::size_t at = bytes.find(from); at != std::string::npos; at = bytes.find(from, at + 1)) {
    bytes.replace(at, to.size(), to);
    ++n;
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  return n;
}

std::string le_bytes(std::uint64_t v) {
  std::string s(8, '\0');
  std::memcpy(s.data(), &v, 8);
  return s;
}

// A value of a struct with one 8-byte data field (`value @0 :UInt64`), as one
// unframed segment: the root pointer, then the data word.
std::vector<std::byte> u64_value(std::uint64_t v) {
  std::vector<std::byte> bytes(16);
  const std::uint64_t words[2] = {std::uint64_t{1} << 32, v};
  std::memcpy(bytes.data(), words, 16);
  return bytes;
}

instadump::storage::schema_record schema(std::uint64_t fingerprint, const std::string& text) {
  const auto* b = reinterpret_cast<const std::byte*>(text.data());
  return {fingerprint, std::vector<std::byte>(b, b + text.size())};
}

// A new value of `bytes` (which must outlive the write), written by fill()
// as the library's saves write theirs (so that a small one is journaled).
instadump::storage::new_value value(std::string_view key, std::uint64_t fingerprint, std::span<const std::byte> bytes) {
  instadump::storage::new_value v;
  v.key = key;
  v.schema = {fingerprint, 1};
  v.size_bytes = bytes.size();
  v.fill = [bytes](std::span<std::byte> out) { std::memcpy(out.data(), bytes.data(), bytes.size()); };
  return v;
}

// A message of `struct WorldState { value @0 :World; }` (the schema below),
// one unframed segment, built word by word: World { tick, players, log =
// Log { label (null), events } }, each list of Int64 null when empty.
std::vector<std::uint64_t> world_message(std::uint64_t tick, const std::vector<std::uint64_t>& players,
                                         const std::vector<std::uint64_t>& events) {
  const auto list = [](std::uint64_t offset, std::size_t n) -> std::uint64_t {
    return n == 0 ? 0 : (offset << 2) | 1 | (std::uint64_t{5} << 32) | (std::uint64_t{n} << 35);
  };
  std::vector<std::uint64_t> w = {
      std::uint64_t{1} << 48,                          // root: WorldState, 1 pointer
      (std::uint64_t{1} << 32) | (std::uint64_t{2} << 48),  // value: World, 1 data word, 2 pointers
      tick,
      list(3, players.size()),                         // players: after Log's pointers (word 7)
      std::uint64_t{2} << 48,                          // log: Log, 2 pointers
      0,                                               // log.label
      list(players.size(), events.size()),             // log.events: after the players
  };
  w.insert(w.end(), players.begin(), players.end());
  w.insert(w.end(), events.begin(), events.end());
  return w;
}

kj::ArrayPtr<const capnp::word> as_words(const std::vector<std::uint64_t>& w) {
  return kj::arrayPtr(reinterpret_cast<const capnp::word*>(w.data()), w.size());
}

// The bytes of a ChunkedMembers value holding `message` and `members`.
std::vector<std::byte> members_value(const std::vector<std::uint64_t>& message,
                                     const std::vector<instadump::storage::chunked_member>& members) {
  kj::ArrayPtr<const capnp::word> segments[1] = {as_words(message)};
  capnp::SegmentArrayMessageReader reader(kj::arrayPtr(segments, 1));
  capnp::MallocMessageBuilder value;
  value.setRoot(reader.getRoot<capnp::AnyStruct>());
  const kj::Array<capnp::word> words = instadump::storage::encode_chunked_members(value, members);
  const auto* b = reinterpret_cast<const std::byte*>(words.begin());
  return std::vector<std::byte>(b, b + words.size() * sizeof(capnp::word));
}

// Waits (up to a minute) until `dir` has `snapshots` snapshots a read-only
// open sees.
bool wait_for_snapshots(const fs::path& dir, const fs::path& tmp, std::size_t snapshots) {
  for (int i = 0; i < 600; ++i) {
    program_result r = tool({"ls", dir.string()}, tmp);
    if (r.exit_code == 0 && std::count(r.out.begin(), r.out.end(), '\n') >= static_cast<long>(snapshots) + 1 &&
        r.out.find("no snapshots") == std::string::npos) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace

TEST_CASE("verify names the value whose stored byte flipped -- show refuses it cleanly") {
  const fs::path tmp = scratch("flip-value");
  const fs::path db = tmp / "db";
  REQUIRE(clitest::run(states(), {"golden", db.string()}, tmp).exit_code == 0);
  REQUIRE(tool({"verify", db.string()}, tmp).exit_code == 0);

  REQUIRE(patch_file(db / "data.mdb", "he said", "He said") >= 1);
  program_result verify = tool({"verify", db.string()}, tmp);
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 1);
  CHECK(verify.out.find("value \"clitest::motto\"") != std::string::npos);
  CHECK(verify.out.find("checksum mismatch") != std::string::npos);

  program_result show = tool({"show", db.string()}, tmp);
  INFO(show.out << show.err);
  CHECK(show.exit_code == 2);
  CHECK(show.out.empty());  // nothing printed from a damaged snapshot
  CHECK(std::count(show.err.begin(), show.err.end(), '\n') == 1);
  CHECK(show.err.find("clitest::motto") != std::string::npos);
  fs::remove_all(tmp);
}

TEST_CASE("show prints a map saved with deltas as the program loads it: as the same map saved whole") {
  const fs::path tmp = scratch("deltas");
  const fs::path with_deltas = tmp / "deltas", whole = tmp / "whole";
  REQUIRE(clitest::run(states(), {"deltas", with_deltas.string()}, tmp).exit_code == 0);
  REQUIRE(clitest::run(states(), {"final", whole.string()}, tmp).exit_code == 0);
  // A pmap state, and a struct state's pmap member.
  for (const char* key : {"clitest::players", "clitest::team"}) {
    for (const char* format : {"--json", ""}) {
      std::vector<std::string> args{"show", with_deltas.string(), key};
      if (*format) args.push_back(format);
      const program_result shown = tool(args, tmp);
      args[1] = whole.string();
      const program_result expected = tool(args, tmp);
      INFO(key << format << shown.err << expected.err);
      REQUIRE(shown.exit_code == 0);
      REQUIRE(expected.exit_code == 0);
      // (The snapshots' ids and times differ: compared from the value on.)
      const auto value_of = [&](const std::string& out) { return out.substr(std::min(out.find(key), out.size())); };
      CHECK(value_of(shown.out) == value_of(expected.out));
      CHECK(value_of(shown.out).size() > 2'000 * 20);
      CHECK(shown.out.find("between") == std::string::npos);  // added, then erased
      CHECK(shown.out.find("back") != std::string::npos);     // erased, then set again
    }
  }
  CHECK(tool({"verify", with_deltas.string()}, tmp).exit_code == 0);
  fs::remove_all(tmp);
}

TEST_CASE("verify names every damaged value of a snapshot, not only its first") {
  const fs::path tmp = scratch("flip-two");
  const fs::path db = tmp / "db";
  REQUIRE(clitest::run(states(), {"golden", db.string()}, tmp).exit_code == 0);
  // motto's bytes are shared by both snapshots; stock was rewritten by the
  // second, and both versions hold "fruit".
  REQUIRE(patch_file(db / "data.mdb", "he said", "He said") >= 1);
  REQUIRE(patch_file(db / "data.mdb", "fruit", "Fruit") >= 2);
  program_result verify = tool({"verify", db.string()}, tmp);
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 1);
  const auto count = [&](const std::string& text) {
    std::size_t n = 0;
    for (std::size_t at = verify.out.find(text); at != std::string::npos; at = verify.out.find(text, at + 1)) ++n;
    return n;
  };
  CHECK(count("value \"clitest::motto\"") == 2);  // in each snapshot
  CHECK(count("value \"clitest::stock\"") == 2);
  CHECK(verify.out.find("4 problems") != std::string::npos);
  fs::remove_all(tmp);
}

TEST_CASE("verify names the values of a journal frame whose byte flipped") {
  const fs::path tmp = scratch("flip-frame");
  const fs::path db = tmp / "db";
  const std::string text = "@0xa1b2c3d4e5f60718;\nstruct AlphaState {\n  value @0 :UInt64;\n}\n";
  const std::uint64_t second = 0x8877665544332211ull;
  // A writer that saves snapshot 1 into data.mdb and snapshot 2 into the
  // journal only, then dies before writing it into data.mdb.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    try {
      instadump::storage::store_options options;
      options.journal_delay = std::chrono::hours(1);
      auto store = instadump::storage::snapshot_store::open(db, options);
      const auto first_bytes = u64_value(0x0102030405060708ull);
      const auto schemas = std::vector{schema(0xa1fa, text)};
      store->write_snapshot({value("alpha", 0xa1fa, first_bytes)}, true, schemas);
      store->flush_journal();
      const auto second_bytes = u64_value(second);
      // On the newest snapshot: a small save that goes to the journal.
      store->write_snapshot(1, instadump::storage::snapshot_delta{{value("alpha", 0xa1fa, second_bytes)}, {}, {}},
                            true);
      ::_exit(0);
    } catch (...) {
      ::_exit(1);
    }
  }
  REQUIRE(clitest::wait_for(child) == 0);
  program_result before = tool({"verify", db.string()}, tmp);
  INFO(before.out << before.err);
  REQUIRE(before.exit_code == 0);

  // The value's bytes are in the packed frame as they are (no zero bytes).
  REQUIRE(patch_file(db / "journal.log", le_bytes(second), le_bytes(second ^ 0x1000000)) == 1);
  program_result verify = tool({"verify", db.string()}, tmp);
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 1);
  CHECK(verify.out.find("journal.log: the frame of snapshot 2") != std::string::npos);
  CHECK(verify.out.find("\"alpha\"") != std::string::npos);
  fs::remove_all(tmp);
}

TEST_CASE("the printer reports values that do not match their schema and never crashes") {
  const fs::path tmp = scratch("mismatch");
  const fs::path db = tmp / "db";
  const std::string text =
      "@0xb1c2d3e4f5061728;\n"
      "struct FuzzState { value @0 :Inner; }\n"
      "struct Inner {\n"
      "  a @0 :Int64; t @1 :Text; l @2 :List(Inner); d @3 :Data; e @4 :Color; f @5 :List(Float32);\n"
      "  u :union { x @6 :Void; y @7 :Float64; z @8 :List(Text); }\n"
      "}\n"
      "enum Color { red @0; green @1; }\n";
  std::mt19937_64 random(20261206);
  std::vector<std::string> keys;
  std::vector<std::vector<std::byte>> bytes;
  for (int i = 0; i < 300; ++i) {
    keys.push_back("fuzz::value" + std::to_string(i));
    std::vector<std::uint64_t> words(1 + random() % 24);
    for (auto& w : words) w = random();
    // Mostly a plausible root pointer, so the walk goes deep.
    if (i % 3 != 0) words[0] = (words[0] & 0xffff0000fffffffcull) % (std::uint64_t{8} << 32);
    std::vector<std::byte> b(words.size() * 8);
    std::memcpy(b.data(), words.data(), b.size());
    bytes.push_back(std::move(b));
  }
  {
    auto store = instadump::storage::snapshot_store::open(db, {});
    std::vector<std::variant<instadump::storage::new_value, instadump::storage::kept_value>> values;
    for (std::size_t i = 0; i < keys.size(); ++i) values.push_back(value(keys[i], 0xf022, bytes[i]));
    // A value whose schema text does not parse, and one with no schema.
    const auto ok_bytes = u64_value(5);
    values.push_back(value("broken::schema", 0xbad, ok_bytes));
    values.push_back(value("no::schema", 0x404, ok_bytes));
    const auto schemas = std::vector{schema(0xf022, text), schema(0xbad, "@0xb1c2d3e4f5061729;\nstruct X { value @0 :Nope; }\n")};
    store->write_snapshot(std::move(values), true, schemas);
  }
  for (const char* format : {"--json", "--snapshot=1"}) {
    program_result show = tool({"show", db.string(), format}, tmp);
    INFO(show.err);
    CHECK(show.exit_code == 1);  // problems reported, no crash
    CHECK(show.err.find("did not decode in full") != std::string::npos);
    CHECK(show.out.find("no::schema") != std::string::npos);
    CHECK(show.out.find("broken::schema") != std::string::npos);
  }
  program_result verify = tool({"verify", db.string()}, tmp);
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 1);
  CHECK(verify.out.find("value \"broken::schema\": schema 0x0000000000000bad does not parse") != std::string::npos);
  CHECK(verify.out.find("1 without a stored schema") != std::string::npos);
  fs::remove_all(tmp);
}

TEST_CASE("show and verify assemble a struct's members stored node by node in place, and name what is amiss") {
  const fs::path tmp = scratch("members");
  const fs::path db = tmp / "db";
  const std::string text =
      "@0xb1c2d3e4f506172a;\n"
      "struct WorldState { value @0 :World; }\n"
      "struct World { tick @0 :Int64; players @1 :List(Int64); log @2 :Log; }\n"
      "struct Log { label @0 :Text; events @1 :List(Int64); }\n";
  constexpr std::uint64_t fp = 0xf07;
  using instadump::storage::chunked_member;
  {
    auto store = instadump::storage::snapshot_store::open(db, {});
    const std::uint64_t c = store->next_chunk_id();  // leaves of players, of log.events, of other players
    const std::vector<std::uint64_t> leaves[3] = {world_message(0, {10, 20, 30}, {}), world_message(0, {}, {7, 8}),
                                                  world_message(0, {99}, {})};
    std::vector<std::vector<std::byte>> chunk_bytes;
    for (std::uint64_t i = 0; i < 3; ++i) {
      chunk_bytes.push_back(instadump::storage::encode_chunk(c + i, {fp, 1}, 0, {}, as_words(leaves[i])));
    }
    const std::vector<chunked_member> both = {{"value.players", c, 3, 0, 0}, {"value.log.events", c + 1, 2, 0, 0}};
    struct stored {
      std::string key;
      std::vector<std::byte> bytes;
      std::vector<std::uint64_t> roots;
    };
    const std::vector<stored> values = {
        {"w::good", members_value(world_message(5, {}, {}), both), {c, c + 1}},
        {"w::roots", members_value(world_message(5, {}, {}), both), {c + 2}},
        {"w::held", members_value(world_message(5, {4}, {}), {{"value.players", c, 3, 0, 0}}), {c}},
        {"w::nofield", members_value(world_message(5, {}, {}), {{"value.nothing", c, 3, 0, 0}}), {c}},
        {"w::count", members_value(world_message(5, {}, {}), {{"value.players", c, 5, 0, 0}}), {c}},
        // A collection state's descriptor (root c + 2, 1 entry) stored with another chunk root.
        {"w::descriptor", std::vector<std::byte>(), {c}},
    };
    const std::uint64_t descriptor[4] = {std::uint64_t{3} << 32, c + 2, 1, 0};
    const auto descriptor_bytes = std::as_bytes(std::span(descriptor));
    instadump::storage::snapshot_delta delta;
    for (const stored& v : values) {
      instadump::storage::new_value n =
          value(v.key, fp,
                v.bytes.empty() ? descriptor_bytes : std::span<const std::byte>(v.bytes));
      n.chunk_roots = v.roots;
      delta.put.push_back(std::move(n));
    }
    for (std::uint64_t i = 0; i < 3; ++i) delta.chunks.push_back({c + i, chunk_bytes[i]});
    const auto schemas = std::vector{schema(fp, text)};
    store->write_snapshot(0, std::move(delta), true, schemas);
  }
  program_result show = tool({"show", db.string()}, tmp);
  INFO(show.out << show.err);
  CHECK(show.exit_code == 1);
  CHECK(show.out.find("w::good = (tick = 5, players = [10, 20, 30], log = (label = \"\", events = [7, 8]))\n") !=
        std::string::npos);
  program_result json = tool({"show", db.string(), "--json"}, tmp);
  INFO(json.out << json.err);
  CHECK(json.out.find("\"w::good\":{\"tick\":5,\"players\":[10,20,30],\"log\":{\"label\":\"\",\"events\":[7,8]}}") !=
        std::string::npos);
  // Problems in place of a value or of an element: the document stays JSON.
  CHECK(json.out.find("\"w::roots\":{\"$problem\":\"the value refers to other chunks") != std::string::npos);
  CHECK(json.out.find("\"players\":{\"$problem\":\"its member 'value.players' is stored node by node and also "
                      "holds 1 entries") != std::string::npos);
  CHECK(json.out.find("\"w::nofield\":{\"$problem\":\"its member 'value.nothing'") != std::string::npos);
  CHECK(json.out.find("\"players\":[10,20,30,{\"$problem\":\"the collection's chunks hold 3 entries, its "
                      "descriptor says 5\"}]") != std::string::npos);
  CHECK(json.out.find("\"w::descriptor\":{\"$problem\":\"the collection's descriptor names other chunks") !=
        std::string::npos);
  program_result verify = tool({"verify", db.string()}, tmp);
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 1);
  CHECK(verify.out.find("\"w::good\"") == std::string::npos);
  for (const char* key : {"w::roots", "w::held", "w::nofield", "w::count", "w::descriptor"}) {
    CHECK(verify.out.find("value \"" + std::string(key) + "\"") != std::string::npos);
  }
  fs::remove_all(tmp);
}

TEST_CASE("backups of a store written in a loop each load as one whole snapshot") {
  const fs::path tmp = scratch("backup");
  const fs::path db = tmp / "db";
  clitest::background writer(states(), {"loop", db.string()});
  REQUIRE(writer.started());
  REQUIRE(wait_for_snapshots(db, tmp, 2));
  for (int i = 0; i < 3; ++i) {
    const fs::path dest = tmp / ("copy" + std::to_string(i));
    program_result backup = tool({"backup", db.string(), dest.string()}, tmp);
    INFO(backup.out << backup.err);
    REQUIRE(backup.exit_code == 0);
    program_result loaded = clitest::run(states(), {"check", dest.string()}, tmp);
    INFO(loaded.out << loaded.err);
    CHECK(loaded.exit_code == 0);
    CHECK(loaded.out.find("whole = yes") != std::string::npos);
    CHECK(tool({"verify", dest.string()}, tmp).exit_code == 0);
  }
  writer.stop();
  fs::remove_all(tmp);
}

TEST_CASE("show and verify beside a writer saving continuously see only whole snapshots") {
  const fs::path tmp = scratch("live");
  const fs::path db = tmp / "db";
  clitest::background writer(states(), {"loop", db.string()});
  REQUIRE(writer.started());
  REQUIRE(wait_for_snapshots(db, tmp, 2));
  const std::regex loop_values(
      "\"clitest::loop_a\":([0-9]+),\n\"clitest::loop_b\":([0-9]+),\n\"clitest::loop_list\":\\[([0-9,]*)\\]");
  std::int64_t last = 0;
  // 20 rounds: each verify checks every snapshot the busy writer has kept or
  // journaled, which takes a second under the sanitizers.
  for (int i = 0; i < 20; ++i) {
    program_result show = tool({"show", db.string(), "clitest::loop_a", "clitest::loop_b", "clitest::loop_list",
                                "--json"}, tmp);
    INFO(show.out << show.err);
    REQUIRE(show.exit_code == 0);
    std::smatch m;
    REQUIRE(std::regex_search(show.out, m, loop_values));
    const std::int64_t a = std::stoll(m[1]);
    CHECK(std::stoll(m[2]) == a);
    std::string expected;
    for (std::int64_t k = 0; k < a % 64; ++k) expected += (k ? "," : "") + std::to_string(a);
    CHECK(m[3] == expected);
    CHECK(a >= last);
    last = a;
    program_result verify = tool({"verify", db.string()}, tmp);
    INFO(verify.out << verify.err);
    CHECK(verify.exit_code == 0);
  }
  writer.stop();
  fs::remove_all(tmp);
}

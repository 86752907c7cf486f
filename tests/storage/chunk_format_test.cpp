// The chunk layout (chunk_format.h), journal entries that carry chunks
// (journal_codec.h), and the reference counts with their cascading
// reclamation (chunk_ledger.h), without LMDB.
#include <catch2/catch.hpp>

#include <cstring>

#include "common/errors.h"
#include "storage/chunk_format.h"
#include "storage/chunk_ledger.h"
#include "storage/journal_codec.h"
#include "storage/journal_frame.h"

using namespace instadump::storage;

namespace {

// Payload words holding `values`.
struct words_of {
  std::vector<std::uint64_t> values;
  words_of(std::initializer_list<std::uint64_t> v) : values(v) {}
  kj::ArrayPtr<const capnp::word> words() const {
    return kj::arrayPtr(reinterpret_cast<const capnp::word*>(values.data()), values.size());
  }
  const capnp::word* data() const { return words().begin(); }
  std::size_t size() const { return values.size(); }
};

std::uint64_t word(const chunk_view& c, std::size_t i) {
  std::uint64_t v;
  std::memcpy(&v, c.payload.begin() + i, 8);
  return v;
}

std::string parse_error(std::span<const std::byte> bytes, std::uint64_t id) {
  try {
    parse_chunk(bytes, id, "value \"m\"");
  } catch (const instadump::corrupt_data& e) {
    return e.what();
  }
  FAIL("the damage was not noticed");
  return {};
}

}  // namespace

TEST_CASE("a chunk is written and parsed back: header, children, payload, checksum") {
  const words_of payload = words_of({11, 22, 33});
  const std::vector<std::uint64_t> children = {3, 5};
  const std::vector<std::byte> bytes =
      encode_chunk(9, schema_identity{0xABC, 4}, 0x1234, children, kj::arrayPtr(payload.data(), payload.size()));
  CHECK(bytes.size() == chunk_bytes(2, 3));
  CHECK(bytes.size() == 40 + 16 + 24);
  const chunk_view v = parse_chunk(bytes, 9, "value \"m\"");
  CHECK(v.id == 9);
  CHECK(v.schema == schema_identity{0xABC, 4});
  CHECK(v.node_type == 0x1234);
  CHECK(std::vector<std::uint64_t>(v.children.begin(), v.children.end()) == children);
  REQUIRE(v.payload.size() == 3);
  CHECK(word(v, 0) == 11);
  CHECK(word(v, 2) == 33);

  // Built in place: the same bytes.
  std::vector<std::byte> in_place(chunk_bytes(2, 3));
  write_chunk_header(in_place, 9, schema_identity{0xABC, 4}, 0x1234, children);
  const std::span<std::byte> room = chunk_payload(in_place);
  REQUIRE(room.size() == 24);
  std::memcpy(room.data(), payload.data(), 24);
  seal_chunk(in_place);
  CHECK(in_place == bytes);

  // The header alone, at any alignment.
  std::vector<std::byte> shifted(bytes.size() + 2);
  std::memcpy(shifted.data() + 2, bytes.data(), bytes.size());
  chunk_header h;
  REQUIRE(read_chunk_header(std::span<const std::byte>(shifted).subspan(2), h));
  CHECK(h.id == 9);
  CHECK(h.children == children);

  // No children, no payload.
  const std::vector<std::byte> empty = encode_chunk(1, {}, 0, {}, {});
  CHECK(empty.size() == kChunkHeaderBytes);
  CHECK(parse_chunk(empty, 1, "x").payload.size() == 0);
}

TEST_CASE("a damaged chunk is corrupt_data naming the chunk and what refers to it") {
  const words_of payload = words_of({1, 2});
  const std::vector<std::uint64_t> children = {4};
  std::vector<std::byte> bytes = encode_chunk(7, {}, 0, children, kj::arrayPtr(payload.data(), payload.size()));
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    std::vector<std::byte> flipped = bytes;
    flipped[i] ^= std::byte{0x40};
    CAPTURE(i);
    CHECK_THAT(parse_error(flipped, 7), Catch::Contains("chunk 7 (value \"m\")") && Catch::Contains("damaged"));
  }
  CHECK_THAT(parse_error(bytes, 8), Catch::Contains("says it is chunk 7"));
  CHECK_THAT(parse_error(std::span<const std::byte>(bytes).first(32), 7), Catch::Contains("is 32 bytes long"));
  CHECK_THAT(parse_error(std::span<const std::byte>(bytes).first(52), 7), Catch::Contains("is 52 bytes long"));
  // A header that lists more children than the chunk holds (checksum made to fit).
  std::vector<std::byte> many = bytes;
  const std::uint32_t n = 1000;
  std::memcpy(many.data() + 28, &n, 4);
  seal_chunk(many);
  CHECK_THAT(parse_error(many, 7), Catch::Contains("lists 1000 children"));
  chunk_header h;
  CHECK_FALSE(read_chunk_header(many, h));
  // Misaligned input is the caller's bug, not damage.
  std::vector<std::uint64_t> room(bytes.size() / 8 + 1);
  std::memcpy(reinterpret_cast<std::byte*>(room.data()) + 4, bytes.data(), bytes.size());
  CHECK_THROWS_AS(parse_chunk({reinterpret_cast<const std::byte*>(room.data()) + 4, bytes.size()}, 7, "x"),
                  instadump::storage_error);
}

TEST_CASE("a journal entry carries its chunks and each value's roots, and decoding checks them") {
  const words_of payload = words_of({5});
  const std::vector<std::byte> c3 = encode_chunk(3, {}, 0, {}, kj::arrayPtr(payload.data(), 1));
  const std::vector<std::uint64_t> kid = {3};
  const std::vector<std::byte> c4 = encode_chunk(4, {}, 0, kid, kj::arrayPtr(payload.data(), 1));
  journal_entry e;
  e.store_created_unix_nanos = 1;
  e.snapshot_id = 2;
  e.base_id = 1;
  e.blob_id = 5;
  e.values.push_back(journal_value{1, 0, 8, {7, 1}, false, {4, 9}});
  e.values.push_back(journal_value{2, 8, 8, {7, 1}, false, {}});
  journal_message m(16, c3.size() + c4.size(), journal_message_words(2, 0, 0, 0, 0, 2, 2));
  std::memcpy(m.chunks().data(), c3.data(), c3.size());
  std::memcpy(m.chunks().data() + c3.size(), c4.data(), c4.size());
  e.chunks = {m.chunks().first(c3.size()), m.chunks().subspan(c3.size())};
  m.finish(e);

  std::vector<std::uint64_t> unpacked;
  {
    // The payload is packed; decode_journal_entry takes it unpacked.
    std::vector<std::byte> packed;
    for (const auto part : m.payload()) packed.insert(packed.end(), part.begin(), part.end());
    unpacked.resize(m.unpacked_bytes() / 8);
    REQUIRE(unpack_words(packed, {reinterpret_cast<std::byte*>(unpacked.data()), unpacked.size() * 8}));
  }
  const journal_entry d = decode_journal_entry(
      kj::arrayPtr(reinterpret_cast<const capnp::word*>(unpacked.data()), unpacked.size()), "entry 2");
  REQUIRE(d.chunks.size() == 2);
  CHECK(chunk_id_of(d.chunks[0]) == 3);
  CHECK(std::equal(d.chunks[1].begin(), d.chunks[1].end(), c4.begin(), c4.end()));
  CHECK(d.values == e.values);
}

TEST_CASE("reference counts: a chunk goes when nothing refers to it, and takes its children with it") {
  chunk_ledger ledger;
  // A tree: root 5 over branches 3 (leaves 1, 2) and 4 (leaf 2, shared).
  ledger.apply(ledger.plan({{1, {}}, {2, {}}, {3, {1, 2}}, {4, {2}}, {5, {3, 4}}}, std::vector<std::uint64_t>{5},
                           {}, true));
  CHECK(ledger.size() == 5);
  CHECK(ledger.references(2) == 2);
  CHECK(ledger.references(5) == 1);

  // A second value refers to 4 as well; then the first lets go of 5.
  ledger.apply(ledger.plan({}, std::vector<std::uint64_t>{4}, {}, true));
  ledger_step step = ledger.plan({}, {}, std::vector<std::uint64_t>{5}, true);
  CHECK(step.dropped == std::vector<std::uint64_t>{1, 3, 5});  // 4 and 2 are still reached
  ledger.apply(std::move(step));
  CHECK(ledger.size() == 2);
  CHECK(ledger.references(4) == 1);
  CHECK(ledger.references(2) == 1);

  // Without reclaiming (records that cannot be trusted), nothing goes.
  step = ledger.plan({}, {}, std::vector<std::uint64_t>{4}, false);
  CHECK(step.dropped.empty());
  // A new chunk over 4 keeps it when its last root goes in the same step.
  step = ledger.plan({{6, {4}}}, std::vector<std::uint64_t>{6}, std::vector<std::uint64_t>{4}, true);
  CHECK(step.dropped.empty());
  ledger.apply(std::move(step));
  CHECK(ledger.references(4) == 1);
  // Counts never go below 0: a root ended twice drops it once.
  step = ledger.plan({}, {}, std::vector<std::uint64_t>{6, 6}, true);
  CHECK(step.dropped == std::vector<std::uint64_t>{2, 4, 6});
}

TEST_CASE("loading counts parents and roots and finds the orphans") {
  chunk_ledger ledger;
  ledger.add_stored({1, {}});
  ledger.add_stored({2, {1}});
  ledger.add_stored({3, {1, 99}});  // 99 is not stored: ignored
  ledger.add_stored({4, {}});
  const std::vector<std::uint64_t> roots = {2, 2, 77};
  ledger.add_roots(roots);
  ledger.finish_loading(true);
  CHECK(ledger.references(1) == 2);
  CHECK(ledger.references(2) == 2);
  CHECK(ledger.orphans() == std::vector<std::uint64_t>{3, 4});
  // The next step with reclaiming drops the orphans (not what it refers to).
  ledger_step step = ledger.plan({{5, {4}}}, std::vector<std::uint64_t>{5}, {}, true);
  CHECK(step.dropped == std::vector<std::uint64_t>{3});
  ledger.apply(std::move(step));
  CHECK(ledger.orphans().empty());
  CHECK(ledger.references(1) == 1);
}

// instadump/support/wire_reader.h, the reader the generated decoders use, on
// hand-built words: fields and lists read where Cap'n Proto puts them, far
// pointers are followed, and every kind of damage -- a pointer out of its
// segment, a wrong element size, text without its NUL, a missing segment,
// pointers aliasing one blob, a struct pointing at itself, a list of
// billions of empty elements -- is a wire::malformed_data error, never a
// read outside the message. Also a message of many segments through the
// generated decoder of bad::value.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "bad_types.h"
#include "instadump/support/wire_reader.h"
#include <capnp/serialize.h>

namespace {

using instadump::wire::element;
using instadump::wire::malformed_data;
using words = std::vector<std::uint64_t>;

std::uint64_t struct_ptr(std::int32_t offset, std::uint16_t data_words, std::uint16_t pointers) {
  return (std::uint64_t{pointers} << 48) | (std::uint64_t{data_words} << 32) |
         (static_cast<std::uint32_t>(offset) << 2);
}
std::uint64_t list_ptr(std::int32_t offset, element size, std::uint32_t count) {
  return (std::uint64_t{count} << 35) | (std::uint64_t(size) << 32) | (static_cast<std::uint32_t>(offset) << 2) | 1;
}
std::uint64_t far_ptr(std::uint32_t segment, std::uint32_t pad, bool double_far) {
  return (std::uint64_t{segment} << 32) | (std::uint64_t{pad} << 3) | (double_far ? 4 : 0) | 2;
}
std::uint64_t bytes_word(const char (&s)[9]) {
  std::uint64_t w;
  std::memcpy(&w, s, 8);
  return w;
}

// A reader over `segments` with Cap'n Proto's options as the store sets them
// for a value of that many words (or `options`).
struct message {
  explicit message(std::vector<words> segs, capnp::ReaderOptions options = {})
      : segments(std::move(segs)) {
    std::size_t total = 0;
    for (auto& s : segments) {
      arrays.push_back(kj::arrayPtr(reinterpret_cast<const capnp::word*>(s.data()), s.size()));
      total += s.size();
    }
    if (options.traversalLimitInWords == capnp::ReaderOptions{}.traversalLimitInWords) {
      options.traversalLimitInWords = total * 4 + 1024;
    }
    reader.emplace(kj::arrayPtr(arrays.data(), arrays.size()), options);
    wire.emplace(*reader);
  }
  std::vector<words> segments;
  std::vector<kj::ArrayPtr<const capnp::word>> arrays;
  std::optional<capnp::SegmentArrayMessageReader> reader;
  std::optional<instadump::wire::message_reader> wire;
};

}  // namespace

TEST_CASE("wire reader: fields, defaults beyond a struct's sections, lists", "[codegen]") {
  // root -> {data: 42, -1.5; pointers: "hi", List(Int16) [7, -8], List(struct{1 data, 0 ptr}) x2}
  double d = -1.5;
  std::uint64_t dw;
  std::memcpy(&dw, &d, 8);
  message m({{struct_ptr(0, 2, 3), 42, dw, list_ptr(2, element::byte, 3), list_ptr(2, element::two, 2),
              list_ptr(2, element::composite, 2), bytes_word("hi\0\0\0\0\0\0"),
              (std::uint64_t{static_cast<std::uint16_t>(-8)} << 16) | 7, struct_ptr(2, 1, 0), 100, 200}});
  auto r = m.wire->root();
  CHECK(r.data<std::int64_t>(0) == 42);
  CHECK(r.data<double>(1) == -1.5);
  CHECK(r.data<std::int32_t>(0) == 42);
  CHECK(r.data<std::int64_t>(2) == 0);  // past the data section: the default
  CHECK_FALSE(r.bit(128));
  CHECK(r.bit(1));  // 42 = 0b101010
  CHECK(r.text(0) == "hi");
  CHECK(r.text(7).empty());  // past the pointer section: null
  auto shorts = r.list(1, element::two);
  REQUIRE(shorts.size() == 2);
  CHECK(shorts.get<std::int16_t>(0) == 7);
  CHECK(shorts.get<std::int16_t>(1) == -8);
  CHECK_THROWS_AS(shorts.get<std::int16_t>(2), malformed_data);
  auto structs = r.list(2, element::composite);
  REQUIRE(structs.size() == 2);
  CHECK(structs.struct_at(1).data<std::int64_t>(0) == 200);
  CHECK(r.child(5).data<std::int64_t>(0) == 0);  // a null struct: all defaults
  CHECK(r.list(6, element::eight).size() == 0);

  CHECK_THROWS_WITH(r.list(1, element::eight), Catch::Contains("element size is 3 where the schema has 5"));
  CHECK_THROWS_WITH(r.child(0), Catch::Contains("not a struct pointer"));
  CHECK(r.list(0, element::byte).size() == 3);  // the text, as the list of bytes it is
}

TEST_CASE("wire reader: damaged pointers and blobs are errors", "[codegen]") {
  SECTION("a root pointing past the segment") {
    message m({{struct_ptr(100, 1, 0), 0}});
    CHECK_THROWS_WITH(m.wire->root(), Catch::Contains("outside its segment"));
  }
  SECTION("a root pointing before the segment") {
    message m({{struct_ptr(-5, 1, 0), 0}});
    CHECK_THROWS_WITH(m.wire->root(), Catch::Contains("outside its segment"));
  }
  SECTION("a struct longer than what is left") {
    message m({{struct_ptr(0, 3, 0), 0}});
    CHECK_THROWS_WITH(m.wire->root(), Catch::Contains("past the end of its segment"));
  }
  SECTION("text without its NUL, text longer than the segment") {
    message m({{struct_ptr(0, 0, 2), list_ptr(1, element::byte, 3), list_ptr(0, element::byte, 90),
                bytes_word("hi!\0\0\0\0\0")}});
    auto r = m.wire->root();
    CHECK_THROWS_WITH(r.text(0), Catch::Contains("not NUL-terminated"));
    CHECK(r.blob(0).size() == 3);  // as Data, the same bytes are fine
    CHECK_THROWS_WITH(r.text(1), Catch::Contains("past the end of its segment"));
  }
  SECTION("an empty message") {
    message m({{}});
    CHECK_THROWS_WITH(m.wire->root(), Catch::Contains("empty"));
  }
  SECTION("a list of structs whose tag claims more than its words") {
    message m({{struct_ptr(0, 0, 1), list_ptr(0, element::composite, 2), struct_ptr(3, 1, 0), 1, 2}});
    CHECK_THROWS_WITH(m.wire->root().list(0, element::composite), Catch::Contains("more elements than its words"));
  }
}

TEST_CASE("wire reader: far pointers across segments", "[codegen]") {
  SECTION("single far") {
    message m({{far_ptr(1, 1, false)}, {0, struct_ptr(0, 1, 0), 7}});
    CHECK(m.wire->root().data<std::int64_t>(0) == 7);
  }
  SECTION("double far") {
    message m({{far_ptr(1, 0, true)}, {far_ptr(2, 1, false), struct_ptr(0, 1, 0)}, {0, 9}});  // content at word 1
    CHECK(m.wire->root().data<std::int64_t>(0) == 9);
  }
  SECTION("to a segment the message lacks") {
    message m({{far_ptr(5, 0, false)}});
    CHECK_THROWS_WITH(m.wire->root(), Catch::Contains("segment 5, which the message lacks"));
  }
  SECTION("a landing pad outside its segment") {
    message m({{far_ptr(1, 3, false)}, {0}});
    CHECK_THROWS_WITH(m.wire->root(), Catch::Contains("landing pad lies outside"));
  }
  SECTION("a landing pad that is another far pointer") {
    message m({{far_ptr(1, 0, false)}, {far_ptr(0, 0, false)}});
    CHECK_THROWS_WITH(m.wire->root(), Catch::Contains("lands on another far pointer"));
  }
}

TEST_CASE("wire reader: the traversal and nesting limits bound crafted messages", "[codegen]") {
  SECTION("a thousand pointers to one 80-byte text") {
    constexpr std::uint32_t n = 1000;
    words seg{struct_ptr(0, 0, 1), list_ptr(0, element::pointer, n)};
    for (std::uint32_t j = 0; j < n; ++j) seg.push_back(list_ptr(static_cast<std::int32_t>(n - 1 - j), element::byte, 80));
    for (int i = 0; i < 10; ++i) seg.push_back(0);
    message m({seg});
    auto texts = m.wire->root().list(0, element::pointer);
    REQUIRE(texts.size() == n);
    CHECK(texts.text(0).size() == 79);
    CHECK_THROWS_WITH(
        [&] {
          for (std::uint32_t j = 0; j < n; ++j) (void)texts.text(j);
        }(),
        Catch::Contains("traversal limit"));
  }
  SECTION("a struct that points at itself") {
    message m({{struct_ptr(0, 0, 1), struct_ptr(-1, 0, 1)}});
    auto r = m.wire->root();
    CHECK_THROWS_WITH(
        [&] {
          for (int i = 0; i < 1000; ++i) r = r.child(0);
        }(),
        Catch::Contains("nesting limit"));
  }
  SECTION("a list of 2^29 empty structs in a few words") {
    message m({{struct_ptr(0, 0, 1), list_ptr(0, element::composite, 0), struct_ptr((1 << 29) - 1, 0, 0)}});
    CHECK_THROWS_WITH(m.wire->root().list(0, element::composite), Catch::Contains("traversal limit"));
  }
  SECTION("a list of 2^29 voids") {
    message m({{struct_ptr(0, 0, 1), list_ptr(0, element::void_, (1u << 29) - 1)}});
    CHECK_THROWS_WITH(m.wire->root().list(0, element::void_), Catch::Contains("traversal limit"));
  }
}

TEST_CASE("the generated decoder reads a message of many segments", "[codegen]") {
  // One-word segments: every object lands in a segment of its own, reached
  // through far pointers (double-far ones where no pad fits).
  capnp::MallocMessageBuilder message(1, capnp::AllocationStrategy::FIXED_SIZE);
  bad::record value{bad::mode::busy, std::string(100, 'x'), {3, -4}};
  bad::encode(value, message);
  REQUIRE(message.getSegmentsForOutput().size() > 2);
  auto flat = capnp::messageToFlatArray(message);
  capnp::FlatArrayMessageReader reader(flat);
  instadump::schema_identity id{0, 1};
  bad::record back = bad::decode(reader, id);
  CHECK(back.m == bad::mode::busy);
  CHECK(std::get<std::string>(back.v) == std::string(100, 'x'));
  CHECK(back.pair == std::array<int, 2>{3, -4});
}

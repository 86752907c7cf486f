// Codec tests: manifest and meta records round-trip, undecodable or newer
// records are rejected as corrupt_data, decode limits, and aligned views.
#include <catch2/catch.hpp>

#include <cstring>

#include "common/errors.h"
#include "storage/checksum.h"
#include "storage/manifest_codec.h"
#include "test_util.h"

using namespace instadump::storage;

namespace {
std::span<const std::byte> as_span(const kj::Array<capnp::word>& words) {
  return {reinterpret_cast<const std::byte*>(words.begin()), words.size() * sizeof(capnp::word)};
}
}  // namespace

TEST_CASE("reader_options_for scales the traversal limit with the size and caps nesting") {
  CHECK(reader_options_for(0).traversalLimitInWords == 1024);
  CHECK(reader_options_for(1000).traversalLimitInWords == 4 * 1000 + 1024);
  CHECK(reader_options_for(1000).nestingLimit == 64);
  // Absurd sizes do not overflow.
  CHECK(reader_options_for(~std::size_t{0}).traversalLimitInWords > 1024);
}

TEST_CASE("manifests round-trip including long keys") {
  snapshot_info info;
  info.id = 42;
  info.created_unix_nanos = 1234567890123;
  // Format 1 values are whole framed messages, one per blob.
  info.entries.push_back(entry_info{"a", {1, 2}, 10, 64, 99, 0, true});
  info.entries.push_back(entry_info{std::string(2000, 'k'), {3, 4}, 11, 8, 7, 0, true});
  info.total_bytes = 72;
  auto bytes = encode_manifest(info);
  CHECK(decode_manifest(as_span(bytes), "test") == info);
}

TEST_CASE("manifest decoding rejects damaged input as corrupt_data") {
  SECTION("not a multiple of 8") {
    std::vector<std::byte> odd(13, std::byte{1});
    CHECK_THROWS_AS(decode_manifest(odd, "test"), instadump::corrupt_data);
  }
  SECTION("random words") {
    for (std::uint64_t seed = 1; seed < 200; ++seed) {
      auto junk = storage_test::pattern(8 * (seed % 40 + 1), seed);
      try {
        decode_manifest(junk, "test");
      } catch (const instadump::corrupt_data& e) {
        CHECK(std::string(e.what()).find("test") != std::string::npos);
      }
    }
  }
  SECTION("empty input has no format version") {
    CHECK_THROWS_AS(decode_manifest({}, "test"), instadump::corrupt_data);
  }
  SECTION("unsorted entries") {
    snapshot_info info;
    info.id = 1;
    info.entries.push_back(entry_info{"b", {}, 1, 8, 0});
    info.entries.push_back(entry_info{"a", {}, 2, 8, 0});
    auto bytes = encode_manifest(info);
    CHECK_THROWS_AS(decode_manifest(as_span(bytes), "test"), instadump::corrupt_data);
  }
}

TEST_CASE("store meta records round-trip and need the magic") {
  auto bytes = encode_store_meta(store_meta{5, 77});
  const store_meta meta = decode_store_meta(as_span(bytes), "test");
  CHECK(meta.format_version == 5);
  CHECK(meta.created_unix_nanos == 77);
  auto manifest = encode_manifest(snapshot_info{});
  CHECK_THROWS_AS(decode_store_meta(as_span(manifest), "test"), instadump::corrupt_data);
}

TEST_CASE("aligned_words copies only unaligned input") {
  alignas(8) std::byte buffer[40] = {};
  for (int i = 0; i < 40; ++i) buffer[i] = static_cast<std::byte>(i);
  aligned_words aligned(std::span<const std::byte>(buffer, 32));
  CHECK_FALSE(aligned.copied());
  CHECK(reinterpret_cast<const void*>(aligned.words().begin()) == buffer);
  aligned_words unaligned(std::span<const std::byte>(buffer + 2, 32));
  CHECK(unaligned.copied());
  CHECK(reinterpret_cast<std::uintptr_t>(unaligned.words().begin()) % 8 == 0);
  CHECK(std::memcmp(unaligned.words().begin(), buffer + 2, 32) == 0);
}

TEST_CASE("checksum_of is XXH3 of the bytes") {
  auto a = storage_test::pattern(64, 1);
  auto b = a;
  CHECK(checksum_of(a) == checksum_of(b));
  b[10] ^= std::byte{1};
  CHECK(checksum_of(a) != checksum_of(b));
}

// libFuzzer target: arbitrary bytes as a stored value of each state of the
// evolution test's last release (tests/evolution/v5), decoded by the code
// instadump-codegen generated for it -- current layouts, widened members,
// user migrations and the version check -- through
// instadump::check_value_decodes.
//
// Input: byte 0 picks the state (its key or a previous key), byte 1 the
// stored schema version; the rest is the message. Decoding may only fail
// with instadump::load_failed; any other exception escapes and libFuzzer
// reports it, as it does crashes, leaks and sanitizer findings.
//
// LLVMFuzzerInitialize writes seeds (one message per state and layout, old
// fields set for version 1, new ones for version 2) into the corpus
// directory given on the command line, so the fuzzer starts from valid
// messages instead of having to discover Cap'n Proto's framing.
#include "instadump/capnp_compat.h"  // before any Cap'n Proto header
#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <string_view>

#include "../corpus_directory.h"
#include "fuzz_generated_decode.capnp.h"

import instadump;

namespace {

namespace schema = instadump_schema::fuzz_generated_decode;

constexpr std::string_view keys[] = {"shop::items", "shop::page_views", "shop::visits",
                                     "shop::owner", "shop::stats",      "shop::writer"};

void write_seed(const std::filesystem::path& dir, const std::string& name, std::uint8_t key, std::uint8_t version,
                capnp::MallocMessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  std::ofstream out(dir / ("seed-" + name + "-v" + std::to_string(version)), std::ios::binary);
  out.put(static_cast<char>(key)).put(static_cast<char>(version));
  out.write(reinterpret_cast<const char*>(bytes.begin()), static_cast<std::streamsize>(bytes.size()));
}

void write_seeds(const std::filesystem::path& dir) {
  for (std::uint8_t version : {1, 2}) {
    {
      capnp::MallocMessageBuilder m;
      auto items = m.initRoot<schema::ShopItemsState>().initValue(2);
      for (unsigned i = 0; i < 2; ++i) {
        items[i].setName(i ? "pear" : "apple");
        items[i].setPriceV1(120);
        items[i].setStock(3);
        items[i].setRemovedNote("crisp");
        auto price = items[i].initPrice();
        price.setCents(250);
        price.setCurrency("USD");
      }
      write_seed(dir, "items", 0, version, m);
    }
    {
      capnp::MallocMessageBuilder m;
      auto root = m.initRoot<schema::ShopVisitsState>();
      root.setValueV1(7);
      root.setValue(8);
      write_seed(dir, "page_views", 1, version, m);
    }
    {
      capnp::MallocMessageBuilder m;
      auto root = m.initRoot<schema::ShopOwnerState>();
      root.setValueV1("ada");
      auto person = root.initValue();
      person.setName("ada");
      person.setSince(2020);
      write_seed(dir, "owner", 3, version, m);
    }
    {
      capnp::MallocMessageBuilder m;
      auto stats = m.initRoot<schema::ShopStatsState>().initValue();
      stats.setHitsV1(11);
      stats.setRatioV1(0.5f);
      stats.setCodeV1(4);
      stats.setLabelV1("x");
      stats.setKind(schema::ShopKind::SPECIAL);
      stats.initTag().setText("t");
      stats.setHits(11);
      stats.setRatio(0.5);
      stats.initCode(2).set(0, 4);
      stats.initLabel().setValue("x");
      write_seed(dir, "stats", 4, version, m);
    }
    {
      capnp::MallocMessageBuilder m;
      m.initRoot<schema::ShopWriterState>().setValue(5);
      write_seed(dir, "writer", 5, version, m);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  if (const auto corpus = fuzz_support::corpus_directory(*argc, *argv)) write_seeds(*corpus);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  std::string_view key = keys[data[0] % std::size(keys)];
  instadump::schema_identity stored{0, static_cast<std::uint32_t>(data[1] % 4)};
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data + 2), size - 2);
  try {
    instadump::check_value_decodes(key, bytes, stored);
  } catch (const instadump::load_failed&) {
  }
  return 0;
}

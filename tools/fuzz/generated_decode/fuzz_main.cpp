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
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

import instadump;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static constexpr std::string_view keys[] = {"shop::items", "shop::page_views", "shop::visits",
                                              "shop::owner", "shop::stats",      "shop::writer"};
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

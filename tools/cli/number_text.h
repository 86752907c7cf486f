// Numbers as text, shared by the emitters: the shortest digits that read
// back as the same double or float, and base64.
#pragma once

#include <charconv>
#include <cstddef>
#include <span>
#include <string>

namespace instadump::cli {

// The shortest decimal that reads back as exactly `v` (a float's digits
// when `single`). REQUIRES: `v` is finite.
inline std::string shortest_decimal(double v, bool single) {
  char text[64];
  auto r = single ? std::to_chars(text, text + sizeof text, static_cast<float>(v))
                  : std::to_chars(text, text + sizeof text, v);
  return std::string(text, r.ptr);
}

// RFC 4648 base64, with padding.
std::string base64(std::span<const std::byte> bytes);

// Whether `s` is valid UTF-8 (no overlong forms, surrogates or code points
// above U+10FFFF).
bool valid_utf8(std::string_view s);

}  // namespace instadump::cli

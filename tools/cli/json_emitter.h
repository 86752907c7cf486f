// Lossless JSON of decoded values (`show --json`, `export`). The
// representation (docs/CLI.md, "JSON"):
//   Void -> null; Bool -> true/false; integers -> numbers, except Int64 and
//   UInt64 values beyond +-2^53 (where a double loses digits) -> strings of
//   their decimal digits; Float32/Float64 -> the shortest number that reads
//   back as the same value, NaN/Infinity/-Infinity -> those strings; Text ->
//   a string (NUL and control characters as \u escapes) or, when it is not
//   valid UTF-8, {"textBase64": "<its bytes>"}; Data -> a base64 string;
//   enum -> its enumerant's name (an unknown one: its number); struct ->
//   an object of its fields in declaration order (of a union, only the
//   active member); List -> an array; a value that does not decode ->
//   {"$problem": "<what>"}.
#pragma once

#include <vector>

#include "output_buffer.h"
#include "value_emitter.h"

namespace instadump::cli {

class json_emitter : public value_emitter {
 public:
  explicit json_emitter(output_buffer& out) : out_(out) {}

  void begin_struct() override;
  void field(std::string_view name) override;
  void end_struct() override;
  void begin_list(std::size_t size, bool composite) override;
  void element() override;
  void end_list() override;
  void void_value() override;
  void boolean(bool v) override;
  void signed_integer(std::int64_t v) override;
  void unsigned_integer(std::uint64_t v) override;
  void floating(double v, bool single) override;
  void text(std::string_view v) override;
  void data(std::span<const std::byte> v) override;
  void enumerant(std::string_view name, std::uint16_t raw) override;
  void problem(std::string_view what) override;

  // `s` as a JSON string literal (valid UTF-8 assumed), for the documents'
  // own keys too.
  static void quote(output_buffer& out, std::string_view s);

 private:
  // Per open struct or list: whether it has an item yet, and whether its
  // items go on lines of their own.
  struct level {
    bool any = false;
    bool lines = false;
  };
  void separate();

  output_buffer& out_;
  std::vector<level> open_;
};

}  // namespace instadump::cli

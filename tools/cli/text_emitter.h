// The readable text of `show`, close to Cap'n Proto's text format:
//   structs (name = "Apple", qty = 3), lists [1, 2, 3] (a state's
//   collection of structs or lists one element per line), Text as a quoted
//   string with C escapes (\0, \n, \xNN for other control bytes, and for
//   every byte above 0x7f when the text is not valid UTF-8), Data as
//   0x"0a ff", enums by name, floats with the digits that read back as the
//   same value (nan, inf, -inf), and <! what !> where a value does not decode.
#pragma once

#include <vector>

#include "output_buffer.h"
#include "value_emitter.h"

namespace instadump::cli {

class text_emitter : public value_emitter {
 public:
  // `one_line`: never break a collection into lines (for `diff`).
  explicit text_emitter(output_buffer& out, bool one_line = false) : out_(out), one_line_(one_line) {}

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

 private:
  struct level {
    bool any = false;
    bool lines = false;
  };
  void separate();

  output_buffer& out_;
  bool one_line_;
  std::vector<level> open_;
};

}  // namespace instadump::cli

// What a decoded value is turned into, piece by piece, as it is decoded:
// the readable text of `show` (text_emitter.h) or the lossless JSON of
// `show --json` and `export` (json_emitter.h). The walker (value_walker.h)
// drives an emitter; nothing is built in memory first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace instadump::cli {

class value_emitter {
 public:
  virtual ~value_emitter() = default;

  // A struct: begin_struct, then field(name) before each field's value, then
  // end_struct. Only the active member of a union is given.
  virtual void begin_struct() = 0;
  virtual void field(std::string_view name) = 0;
  virtual void end_struct() = 0;
  // A list of `size` elements: begin_list, then element() before each
  // element's value, then end_list. `composite`: its elements are structs
  // or lists (an emitter may lay them out one per line).
  virtual void begin_list(std::size_t size, bool composite) = 0;
  virtual void element() = 0;
  virtual void end_list() = 0;

  virtual void void_value() = 0;
  virtual void boolean(bool v) = 0;
  virtual void signed_integer(std::int64_t v) = 0;
  virtual void unsigned_integer(std::uint64_t v) = 0;
  // `single`: a Float32 (written with the digits a float needs).
  virtual void floating(double v, bool single) = 0;
  // Text: any bytes (NUL and invalid UTF-8 included).
  virtual void text(std::string_view v) = 0;
  virtual void data(std::span<const std::byte> v) = 0;
  // An enum value: its enumerant's name, or an empty name when the schema
  // has no enumerant `raw` (a newer writer's).
  virtual void enumerant(std::string_view name, std::uint16_t raw) = 0;
  // In place of a value that could not be decoded: what went wrong.
  virtual void problem(std::string_view what) = 0;
};

// Emits nothing: for `verify`, which only decodes.
class discarding_emitter : public value_emitter {
 public:
  void begin_struct() override {}
  void field(std::string_view) override {}
  void end_struct() override {}
  void begin_list(std::size_t, bool) override {}
  void element() override {}
  void end_list() override {}
  void void_value() override {}
  void boolean(bool) override {}
  void signed_integer(std::int64_t) override {}
  void unsigned_integer(std::uint64_t) override {}
  void floating(double, bool) override {}
  void text(std::string_view) override {}
  void data(std::span<const std::byte>) override {}
  void enumerant(std::string_view, std::uint16_t) override {}
  void problem(std::string_view) override {}
};

}  // namespace instadump::cli

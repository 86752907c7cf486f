// Which types get generated functions, and the one dispatch from a type's
// kind to the code that emits them.
//
// The encoder and the decoder each implement type_functions, so every kind
// that has functions is written in both: a kind added to the dispatch
// without its encoder or decoder does not compile.
#pragma once

#include <string>

#include "emit/codec_context.h"

namespace instadump_codegen {

// True for the kinds that get functions of their own: enumerations and the
// struct- and list-backed kinds. Values of the other kinds are read and
// written inline, where they are stored.
bool has_functions(type_kind k);

class type_functions {
 public:
  virtual ~type_functions() = default;

  // The definitions of type `key`'s functions, by its kind.
  // REQUIRES: has_functions(kind of `key`).
  std::string functions(const std::string& key) const;

 protected:
  explicit type_functions(const codec_context& ctx) : ctx_(ctx) {}

  virtual std::string enum_functions(const std::string& key, const type_node& t) const = 0;
  virtual std::string record_functions(const std::string& key, const type_node& t) const = 0;
  virtual std::string tuple_functions(const std::string& key, const type_node& t) const = 0;
  virtual std::string optional_functions(const std::string& key, const type_node& t) const = 0;
  virtual std::string variant_functions(const std::string& key, const type_node& t) const = 0;
  // std::vector, std::deque, std::set, std::unordered_set and std::array.
  virtual std::string sequence_functions(const std::string& key, const type_node& t) const = 0;
  virtual std::string map_functions(const std::string& key, const type_node& t) const = 0;

  const codec_context& ctx_;
};

}  // namespace instadump_codegen

// The encoder emitter: the generated functions that write C++ values into
// the Cap'n Proto builders of the generated schema.
//
// Every type with functions (codec_context::ordered_types) gets one
// `encode_<Name>_<n>`; the code for one slot (a struct field or a list
// element) is spelled inline, so values move straight from the C++ objects
// into the message with no intermediate copies.
#pragma once

#include <string>

#include "emit/codec_context.h"
#include "emit/type_functions.h"

namespace instadump_codegen {

class encoder : public type_functions {
 public:
  explicit encoder(const codec_context& ctx) : type_functions(ctx) {}

  // The declaration of type `key`'s encode function; functions(key) (see
  // type_functions.h) is its definition.
  std::string declaration(const std::string& key) const;

  // encode_state_<id>: writes the value of state `s` as the root of a message.
  std::string state_encoder(const state& s) const;
  // encode_words_state_<id> when the state's type is a scalar and its root
  // struct has no pointers: the message is then the root pointer and the
  // data words with the one value in them
  // (codec_support::scalar_struct_words), written without a MessageBuilder.
  // "" otherwise.
  std::string state_words_encoder(const state& s) const;

 private:
  // Where a value goes: a field of a struct builder, or an element of a list builder.
  struct slot {
    std::string object;  // builder expression
    std::string field;   // TitleCase field name; empty for a list element
    std::string index;   // list index expression for list elements
  };
  static slot field_slot(const std::string& object, const std::string& schema_name);
  static slot element_slot(const std::string& list, const std::string& index);

  // Statement storing the C++ value `value` (of type `key`) into `s`.
  std::string store(const std::string& key, const std::string& value, const slot& s) const;

  std::string head(const std::string& key, const type_node& t) const;
  std::string enum_functions(const std::string& key, const type_node& t) const override;
  std::string record_functions(const std::string& key, const type_node& t) const override;
  std::string tuple_functions(const std::string& key, const type_node& t) const override;
  std::string optional_functions(const std::string& key, const type_node& t) const override;
  std::string variant_functions(const std::string& key, const type_node& t) const override;
  std::string sequence_functions(const std::string& key, const type_node& t) const override;
  std::string map_functions(const std::string& key, const type_node& t) const override;
};

}  // namespace instadump_codegen

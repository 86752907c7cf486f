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

  // encode_state_<id>: writes the value of state `s` as the root of a message;
  // throws instadump::limit_exceeded, naming the state, for a value beyond
  // a ceiling of the format (common/limits.h): a list, text or data too
  // long, or (types that are or hold recursive ones) nested deeper than a
  // load reads.
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

  // Values whose depth is measured (nesting::dynamic): their encoder returns
  // the levels below the value's own pointer, and the function storing them
  // keeps the deepest in `levels`.
  // The result type of type `key`'s encoder: "unsigned" when measured, else "void".
  std::string result_type(const std::string& key) const;
  // For a measured type: `levels`, declared with the depth its parts that
  // are not measured take; "" otherwise.
  std::string opening(const std::string& key, unsigned levels) const;
  // For a measured type: returning `levels`; "" otherwise.
  std::string closing(const std::string& key) const;
  // The encoder call `call` of type `key` as a statement; measured, it
  // counts into `levels`, one more when the value has a pointer of its own
  // (it is not a struct inside a list of structs).
  std::string call(const std::string& key, const std::string& call, bool own_pointer) const;
  // Whether a value of type `key` holds a list whose elements take no words
  // (std::monostate, structs without fields): what a load reads of it may
  // exceed its traversal budget, so its states check (check_traversal).
  bool holds_empty_elements(const std::string& key) const;

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

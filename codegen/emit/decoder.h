// The decoder emitter: the generated functions that read C++ values from a
// message of the generated schema.
//
// Decoders do not use libcapnp's readers: they read the bytes at the field
// offsets Cap'n Proto's compiler gives the schema (layout.h) through
// instadump/support/wire_reader.h. They treat the message as untrusted: the wire
// reader checks every pointer and size, the decoders every tag, enumerant,
// length and key, and failures throw with the member path.
//
// Every decoder takes `dv`, the history version the data was written in: a
// member widened since then is read from its old field and converted, and a
// record changed by a user migration since then is read by the migration
// emitter's decoder of its older layout and migrated.
#pragma once

#include <string>
#include <vector>

#include "emit/codec_context.h"
#include "emit/type_functions.h"

namespace instadump_codegen {

class decoder : public type_functions {
 public:
  explicit decoder(const codec_context& ctx) : type_functions(ctx) {}

  // The declarations of type `key`'s decode functions; functions(key)
  // (see type_functions.h) are their definitions.
  std::string declarations(const std::string& key) const;

  // decode_state_<id>: the value of state `s` from a message of any of its
  // schema versions this build knows.
  std::string state_decoder(const state& s) const;

  // Expression reading `mem` of a layout (the members of a record or state
  // root in some history version, obsolete ones included) from reader `r`
  // of struct `struct_name`, whose fields are `fields` (the current schema:
  // every ordinal ever used). A member widened since the data was written is
  // read from its old field. `where` is a C string expression naming the
  // member for errors. With `as_view`, text is read as a std::string_view
  // into the message, for assigning to a std::string without a temporary.
  std::string read_member(const std::string& struct_name, const std::vector<member>& fields,
                          const std::vector<member>& layout, const member& mem, const std::string& where,
                          bool as_view = false) const;

 private:
  // Where a value is read: a field of a wire::struct_reader, at the offset
  // Cap'n Proto gave it, or an element of a wire::list_reader.
  struct read_slot {
    std::string object;                   // reader expression
    const field_layout* field = nullptr;  // null for a list element
    std::string index;                    // list index expression for list elements
  };
  read_slot field_read(const std::string& object, const std::string& struct_name, const std::string& field) const;
  static read_slot element_read(const std::string& list, const std::string& index);

  // Expression reading a value of type `key` from `s` (`where`, `as_view`: as for read_member).
  std::string load(const std::string& key, const read_slot& s, const std::string& where, bool as_view = false) const;
  // Converts an expression of an older, narrower type to type `to`.
  std::string widen(const std::string& to, const std::string& expr) const;
  // The wire element size of a list whose elements are of type `key`.
  std::string element_size(const std::string& key) const;
  // The union discriminant of struct `key`'s reader `r`: its number, and as
  // the Which enum Cap'n Proto generates.
  std::string discriminant(const std::string& key) const;
  std::string which(const std::string& key) const;

  // The wire reader a decoder of a struct- or list-backed type takes.
  static std::string wire_reader(const type_node& t);
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

// Where Cap'n Proto puts each field of the emitted schema: data offsets,
// pointer indexes and union discriminants, as the Cap'n Proto compiler lays
// them out. The generated decoders read fields at these constant offsets
// (instadump/support/wire_reader.h) instead of through libcapnp's accessors.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace instadump_codegen {

struct field_layout {
  // A data field's offset in units of its own size (bits for Bool); a
  // pointer field's index in the pointer section.
  std::uint32_t offset = 0;
};

struct struct_layout {
  std::map<std::string, field_layout> fields;  // by schema field name
  std::uint32_t discriminant_offset = 0;       // of the union, in 16-bit units (unions only)
  std::uint32_t data_words = 0;                // size of the data section
  std::uint32_t pointer_count = 0;             // size of the pointer section
};

// By struct name: the layout of every struct of `schema_text` (a file the
// schema emitter wrote). Runs the Cap'n Proto compiler's parser over it, so
// the offsets are exactly those `capnp compile` gives the same text. Throws
// std::runtime_error with the parser's message if the text does not parse.
std::map<std::string, struct_layout> layout_of(const std::string& schema_text);

}  // namespace instadump_codegen

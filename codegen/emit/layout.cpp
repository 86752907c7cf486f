// Field layouts of the emitted schema, from the Cap'n Proto compiler (layout.h).
#include "emit/layout.h"

#include "instadump/capnp_compat.h"  // before any Cap'n Proto header

#include <capnp/schema-parser.h>
#include <kj/exception.h>
#include <kj/filesystem.h>

#include <sstream>
#include <stdexcept>

namespace instadump_codegen {
namespace {

// The text without its C++ annotations: they import c++.capnp, which the
// in-memory file system lacks, and they do not change the layout.
std::string without_cxx_annotations(const std::string& text) {
  std::istringstream in(text);
  std::string out, line;
  while (std::getline(in, line)) {
    if (line.rfind("using Cxx = import", 0) == 0 || line.rfind("$Cxx.", 0) == 0) continue;
    out += line + "\n";
  }
  return out;
}

}  // namespace

std::map<std::string, struct_layout> layout_of(const std::string& schema_text) {
  std::map<std::string, struct_layout> out;
  try {
    auto dir = kj::newInMemoryDirectory(kj::nullClock());
    auto path = kj::Path::parse("schema.capnp");
    dir->openFile(path, kj::WriteMode::CREATE)->writeAll(without_cxx_annotations(schema_text));
    capnp::SchemaParser parser;
    capnp::ParsedSchema file = parser.parseFromDirectory(*dir, path.clone(), nullptr);
    for (capnp::ParsedSchema nested : file.getAllNested()) {
      if (!nested.getProto().isStruct()) continue;
      capnp::StructSchema s = nested.asStruct();
      struct_layout& l = out[nested.getUnqualifiedName().cStr()];
      l.discriminant_offset = s.getProto().getStruct().getDiscriminantOffset();
      l.data_words = s.getProto().getStruct().getDataWordCount();
      l.pointer_count = s.getProto().getStruct().getPointerCount();
      for (capnp::StructSchema::Field f : s.getFields()) {
        if (!f.getProto().isSlot()) {
          throw std::runtime_error("struct " + std::string(nested.getUnqualifiedName().cStr()) +
                                   " has a group, which the generated decoders do not read");
        }
        l.fields[f.getProto().getName().cStr()].offset = f.getProto().getSlot().getOffset();
      }
    }
  } catch (const kj::Exception& e) {
    throw std::runtime_error(std::string("the emitted schema does not parse: ") + e.getDescription().cStr());
  }
  return out;
}

}  // namespace instadump_codegen

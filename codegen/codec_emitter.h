// The C++ codec emitter: encode/decode functions between each state's C++
// type and the Cap'n Proto builders/readers of the generated schema, and the
// static instadump::state_registration objects.
#pragma once

#include <cstddef>
#include <string>

#include "model.h"
#include "schema_emitter.h"

namespace instadump_codegen {

// Emits the codec for the states defined in scanned source number `source`
// (possibly none: then a file with only a comment). The code is meant to be
// #included at the end of that source's translation unit (the generated
// wrapper does it), so it sees every type the source sees, including types
// declared in the source itself or in an anonymous namespace, and it names
// the states directly. `capnp_header` is the #include name of the header that
// `capnp compile` produces for the schema.
std::string emit_codec(const model& m, const schema_output& schema, std::size_t source,
                       const std::string& source_path, const std::string& capnp_header);

}  // namespace instadump_codegen

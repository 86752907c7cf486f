// The C++ codec emitter: per scanned source, the file with the encode and
// decode functions between each state's C++ type and messages of the
// generated schema, and the static instadump::state_registration objects.
//
// The parts: codec_context.h (what the file needs, and the names), encoder.h,
// decoder.h, and migrate/migration_emitter.h (decoders of layouts older than
// a user migration).
#pragma once

#include <cstddef>
#include <string>

#include "emit/schema_emitter.h"
#include "migrate/history.h"
#include "model/model.h"

namespace instadump_codegen {

// Emits the codec for the states defined in scanned source number `source`
// (possibly none: then a file with only a comment). The code is meant to be
// #included at the end of that source's translation unit (the generated
// wrapper does it), so it sees every type the source sees, including types
// declared in the source itself or in an anonymous namespace, and it names
// the states directly. `capnp_header` is the #include name of the header that
// `capnp compile` produces for the schema; `history_header` (may be empty)
// that of the header emit_history_header writes.
//
// Decoders take the history version the data was written in: members whose
// type was widened since then are read from their old field and converted,
// and records changed by a user migration are read into the older version's
// value type and passed through instadump::schema::migrate, version by version.
std::string emit_codec(const model& m, const schema_history& history, const schema_output& schema,
                       std::size_t source, const std::string& source_path, const std::string& capnp_header,
                       const std::string& history_header);

}  // namespace instadump_codegen

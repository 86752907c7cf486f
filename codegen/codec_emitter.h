// The C++ codec emitter: encode/decode functions between each state's C++
// type and the Cap'n Proto builders/readers of the generated schema, and the
// static instadump::state_registration objects.
#pragma once

#include <cstddef>
#include <string>

#include "history.h"
#include "model.h"
#include "schema_emitter.h"

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

// The header with the value types of older layouts that migrations read
// (namespace instadump::schema::v<N>) and the declarations of the migrations
// the history requires. Users include it where they define migrations.
std::string emit_history_header(const schema_history& history, const std::string& target);

// The name of the value type of record `record` as of history version `v`
// (or, with `record` empty, of the wrapper struct {T value;} of state
// `state`), and the signature of the migration into version `v`.
std::string versioned_name(const model& m, const std::string& record, const std::string& state, unsigned v);
std::string migration_signature(const model& m, const std::string& record, const std::string& state, unsigned v);

}  // namespace instadump_codegen

// The Cap'n Proto schema emitter: one .capnp file per target, and each
// state's schema fingerprint.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "emit/layout.h"
#include "model/model.h"

namespace instadump_codegen {

struct schema_output {
  std::string text;                                  // the whole .capnp file
  std::string cxx_namespace;                         // C++ namespace of the generated capnp code
  std::map<std::string, std::uint64_t> fingerprints; // by state key
  // By state key: a self-contained schema file holding that state's root
  // struct and everything reachable from it (the text its fingerprint
  // hashes, with a file id), stored with the snapshots so that stored data
  // can be read without the program.
  std::map<std::string, std::string> state_schemas;
  // By struct name: where Cap'n Proto puts each field (layout_of(text)),
  // which the generated decoders read at. Filled by the caller of emit_schema.
  std::map<std::string, struct_layout> layouts;
};

// The Cap'n Proto namespace for a target: "instadump_schema::<target>".
std::string schema_namespace(const std::string& target);

// Emits the schema for every state of `m` (names must be assigned). The file
// id is derived from `target`; declarations appear in a deterministic order
// (states by key, then depth first), ordinals in declaration order. A state's
// fingerprint hashes the text of its root struct and of every declaration
// reachable from it, so it changes exactly when one of those changes.
schema_output emit_schema(const model& m, const std::string& target);

// The stable 64-bit hash used for ids and fingerprints (XXH3).
std::uint64_t stable_hash(const std::string& text);

}  // namespace instadump_codegen

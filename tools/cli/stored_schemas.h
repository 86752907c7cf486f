// The Cap'n Proto schemas stored in a snapshot directory, parsed at run
// time: every value names the fingerprint of the schema text it was written
// with (docs/FORMAT.md, "Values"), so the tool decodes it without the
// program that wrote it.
#pragma once

#include "instadump/capnp_compat.h"  // before any Cap'n Proto header

#include <capnp/schema-parser.h>
#include <capnp/schema.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "storage/snapshot_store.h"

namespace instadump::cli {

// A parsed stored schema: the state's root struct (`struct <Name>State
// { value @0 :T; }`, the first struct of the text), or why there is none.
struct stored_schema {
  bool stored = false;  // whether the store has a text under the fingerprint
  std::optional<capnp::StructSchema> root;
  std::string problem;  // when !root: "no schema is stored for ...", or the parse errors
};

// Parses and caches the schemas of one store. Not thread-safe.
class schema_library {
 public:
  explicit schema_library(const storage::snapshot_store& store) : store_(store) {}
  schema_library(const schema_library&) = delete;
  schema_library& operator=(const schema_library&) = delete;

  // The schema stored under `fingerprint`, parsed once. Never throws for
  // stored bytes that do not parse: the result says why.
  const stored_schema& get(std::uint64_t fingerprint);
  // Uses `text` for `fingerprint` when the store has none (a schema that
  // came with a snapshot still in the journal).
  void add(std::uint64_t fingerprint, std::span<const std::byte> text);

 private:
  const storage::snapshot_store& store_;
  // One parser per text: two versions of a state's schema share their file
  // id, which one parser refuses.
  std::map<std::uint64_t, std::unique_ptr<capnp::SchemaParser>> parsers_;
  std::map<std::uint64_t, stored_schema> parsed_;
  std::map<std::uint64_t, std::vector<std::byte>> extra_;
};

// "0x1e2adb85a34a5baf".
std::string hex_fingerprint(std::uint64_t fingerprint);

}  // namespace instadump::cli

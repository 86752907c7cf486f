// The migration emitter: the generated decoders that read data written
// before a user migration, into the value types of the older layouts
// (versioned_names.h), for the decoders (emit/decoder.h) to pass through the
// user's instadump::schema::migrate.
//
// A record with migrations at history versions c1 < c2 < ... has one decoder
// per layout it had before each: `decode_v<e>_<Name>_<n>` (e = c - 1) reads
// the fields of layout e, by ordinal, from today's schema (where every
// ordinal ever used is still declared), after migrating data older than the
// previous migration first. A state whose own type changed gets
// `decode_state_v<e>_<id>` likewise.
#pragma once

#include <string>

#include "emit/codec_context.h"
#include "emit/decoder.h"

namespace instadump_codegen {

class migration_emitter {
 public:
  migration_emitter(const codec_context& ctx, const decoder& dec) : ctx_(ctx), decoder_(dec) {}

  // The declaration and the definition of the decoder of record `key`'s
  // layout of history version `e` (one of ctx.older_layouts()).
  std::string declaration(const std::string& key, unsigned e) const;
  std::string definition(const std::string& key, unsigned e) const;

  // The decoders of state `s`'s value in each layout before one of its
  // migrations ("" if its own type never needed one).
  std::string state_decoders(const state& s) const;

 private:
  std::string head(const std::string& key, unsigned e) const;

  const codec_context& ctx_;
  const decoder& decoder_;
};

}  // namespace instadump_codegen

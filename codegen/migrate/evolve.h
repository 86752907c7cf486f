// Schema evolution: reconciles the types a build finds with the newest
// version of the locked schema history.
//
// Cap'n Proto reads old data with a new schema as long as every field keeps
// its ordinal and its type. So a member that is kept keeps its ordinal (also
// when renamed with [[instadump::renamed_from]]), a new member gets the next
// free ordinal, a removed member stays in the schema as obsolete so its
// ordinal is never reused, and a member whose type changed in a way Cap'n
// Proto cannot read across gets a new ordinal while its old field stays,
// obsolete, for the data written before. The last kind of change starts a new
// history version: data older than it is converted when loaded, by the
// generated code for lossless widenings and by a user migration otherwise.
#pragma once

#include <string>
#include <vector>

#include "migrate/history.h"
#include "model/model.h"

namespace instadump_codegen {

enum class evolution {
  identical,    // the newest locked version describes this build exactly
  compatible,   // the newest version is extended in place (new/removed/renamed members, new states, ...)
  new_version,  // a type changed incompatibly: a new version is appended
  first,        // no history yet: version 1 is written
};

// A record whose layout changed in `version` so that the user must convert
// it: `to migrate(const from& old)`.
struct required_migration {
  std::string record;     // C++ key of the record, e.g. "::shop::Item"; empty for a state
  std::string state;      // the state whose own type changed, e.g. "shop::items"; empty for a record
  unsigned version = 0;   // the history version that changed it (from version - 1)
};

struct evolution_result {
  evolution kind = evolution::identical;
  std::vector<std::string> changes;       // human-readable, one per change, for messages
  std::vector<std::string> errors;        // changes the history cannot express
};

// Rewrites names and ordinals of `current` (already named by
// assign_schema_names) to agree with `history`, adds obsolete members, sets
// versions, and appends or replaces the newest version of `history` with the
// result. `current` then is what this build emits.
evolution_result evolve(model& current, schema_history& history);

// Every migration the history requires (all versions).
std::vector<required_migration> all_migrations(const model& m);

}  // namespace instadump_codegen

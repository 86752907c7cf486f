// The schema history: the lock file instadump_add_state keeps in SCHEMA_DIR
// (<target>.schema-history.json), committed by the user like Cargo.lock.
//
// It holds one model per history version, oldest first. The newest one fixes
// the names and ordinals the next build must keep; older ones describe the
// layouts that stored snapshots may still have, for the migration code.
// The text is deterministic and written one member per line, so that a
// change of a type shows up in code review as a small diff.
#pragma once

#include <string>
#include <vector>

#include "model/model.h"

namespace instadump_codegen {

struct schema_history {
  std::vector<model> versions;  // versions[i].history_version == i + 1
};

// Reads the history at `path`. A missing file is an empty history. Returns
// an error message ("" on success) naming the file and what is wrong.
std::string read_history(const std::string& path, schema_history& out);

// The text of the history file for `h`.
std::string history_text(const schema_history& h);

// The text of one model (the part of the file for one version); two models
// with the same text are the same schema.
std::string model_text(const model& m);

}  // namespace instadump_codegen

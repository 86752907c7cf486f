// The history header, <target>_schema_history.h: what users include to
// write migrations. Generated from the schema history alone (a build step of
// its own, `--history-header-only`), so scanned sources may include it.
#pragma once

#include <string>

#include "migrate/history.h"

namespace instadump_codegen {

// The header with the value types of older layouts that migrations read
// (namespace instadump::schema::v<N>; see versioned_names.h) and the
// declarations of the migrations the history requires. Users include it
// where they define migrations.
std::string emit_history_header(const schema_history& history, const std::string& target);

}  // namespace instadump_codegen

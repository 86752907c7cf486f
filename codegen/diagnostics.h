// Diagnostics of instadump-codegen, in the compiler's format.
//
// Errors about user code go through Clang's own diagnostics engine, so they
// print as `file:line:col: error: ...` with the source line and a caret, the
// way IDEs and CI logs expect. Errors found after a translation unit is gone
// (e.g. two files defining the same state) are printed in the same format
// from a saved location string.
#pragma once

#include <string>

#include <clang/Basic/Diagnostic.h>
#include <clang/Basic/SourceLocation.h>

namespace instadump_codegen {

// Process exit codes, part of the tool's interface (documented in --help).
enum exit_code : int {
  exit_ok = 0,          // outputs are up to date
  exit_user_error = 1,  // a scanned source has an error (parse error or unsupported state)
  exit_usage_error = 2, // bad command line, unreadable compilation database, unwritable output
};

// Reports an error at `loc` through `engine`. `message` starts lower-case and
// says what was expected, what was found and what to do.
void report(clang::DiagnosticsEngine& engine, clang::SourceLocation loc, const std::string& message);
// Adds a note at `loc` (e.g. where the first of two conflicting states is).
void report_note(clang::DiagnosticsEngine& engine, clang::SourceLocation loc, const std::string& message);

// Prints `<location>: error: <message>` to stderr; `location` is "file:line:col" or empty.
void report_detached(const std::string& location, const std::string& message);

// "file:line:col" of `loc` (its expansion location) for report_detached.
std::string location_string(const clang::SourceManager& sm, clang::SourceLocation loc);

}  // namespace instadump_codegen

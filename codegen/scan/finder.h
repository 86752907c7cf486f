// The finder: the frontend action that parses one scanned source, finds the
// variables annotated [[instadump::state]], checks them and reflects their
// types into the model.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include <clang/Tooling/Tooling.h>

#include "model/model.h"

namespace instadump_codegen {

// Shared by all translation units of one run.
struct scan_results {
  model types_and_states;
  std::vector<std::string> sources;   // absolute paths of the scanned sources, in command-line order
  std::set<std::string> dependencies; // every file read while parsing, for the depfile
  // Migrations defined in the scanned sources, by the qualified name of the
  // older value type they read, e.g. "instadump::schema::v1::shop::Item".
  std::set<std::string> migrations;
};

// Creates the actions ClangTool runs, one per source. The action records the
// states it finds with `source` = the index of its main file in
// results.sources (sources not listed there are rejected).
std::unique_ptr<clang::tooling::FrontendActionFactory> make_finder_factory(scan_results& results);

}  // namespace instadump_codegen

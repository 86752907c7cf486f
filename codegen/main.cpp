// instadump-codegen: scans C++ sources for [[instadump::state]] variables and
// writes a Cap'n Proto schema and C++ codecs + registrations for them.
//
//   instadump-codegen -p <build dir> --target=<name> --schema-out=<f.capnp>
//                     --codec-out=<f1.h> ... <source1.cpp> ... [--depfile=<f.d>]
//
// Normally run by the CMake function instadump_add_state (cmake/InstadumpState.cmake).
#include <algorithm>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include <clang/Tooling/ArgumentsAdjusters.h>
#include <clang/Tooling/CommonOptionsParser.h>
#include <clang/Tooling/Tooling.h>
#include <llvm/Support/CommandLine.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/Path.h>
#include <llvm/Support/raw_ostream.h>

#include "diagnostics.h"
#include "emit/codec_emitter.h"
#include "emit/output.h"
#include "emit/schema_emitter.h"
#include "migrate/evolve.h"
#include "migrate/history.h"
#include "migrate/history_header.h"
#include "migrate/versioned_names.h"
#include "model/naming.h"
#include "scan/attribute.h"
#include "scan/compile_commands.h"
#include "scan/finder.h"

namespace cl = llvm::cl;
using namespace instadump_codegen;

namespace {

cl::OptionCategory category("instadump-codegen options");
cl::opt<std::string> target_name("target", cl::desc("Name of the CMake target (namespace and file id of the schema)"),
                                 cl::value_desc("name"), cl::cat(category));
cl::opt<std::string> schema_out("schema-out", cl::desc("Path of the Cap'n Proto schema to write"),
                                cl::value_desc("file.capnp"), cl::cat(category));
cl::list<std::string> codec_out("codec-out",
                                cl::desc("Path of the generated codec of each source, in the order of the sources"),
                                cl::value_desc("file.h"), cl::cat(category));
cl::opt<std::string> capnp_header("capnp-header",
                                  cl::desc("#include name of capnp's header for the schema (default: "
                                           "<schema file name>.h)"),
                                  cl::value_desc("name"), cl::cat(category));
cl::opt<std::string> depfile("depfile", cl::desc("Write a Makefile-style depfile for the schema output"),
                             cl::value_desc("file.d"), cl::cat(category));
cl::opt<std::string> entry_filter(
    "entry-filter",
    cl::desc("Use the compile_commands.json entry whose output path contains this text (a source may be compiled "
             "by several targets)"),
    cl::value_desc("text"), cl::cat(category));
cl::opt<std::string> resource_dir("resource-dir",
                                  cl::desc("Clang resource directory (default: the one of the LLVM this tool was "
                                           "built with)"),
                                  cl::value_desc("dir"), cl::cat(category));

cl::opt<std::string> history_path(
    "history", cl::desc("The schema history (lock file) to keep: read, extended when the types change, and used "
                        "to keep ordinals and to convert older data"),
    cl::value_desc("file.json"), cl::cat(category));
cl::opt<bool> locked("locked",
                     cl::desc("Fail instead of changing the schema history (also: environment INSTADUMP_LOCKED=1)"),
                     cl::cat(category));
cl::opt<std::string> history_header_name("history-header-name",
                                         cl::desc("#include name of the history header, for the codecs"),
                                         cl::value_desc("name"), cl::cat(category));
cl::opt<std::string> history_header_out(
    "history-header-only",
    cl::desc("Only write the history header (older value types, migration declarations) from --history to this "
             "path; no sources are scanned"),
    cl::value_desc("file.h"), cl::cat(category));

cl::extrahelp more_help(R"(
Finds every variable annotated [[instadump::state]] in the given sources (each
must be an instadump::ref<T> with static storage duration), reflects each T and
writes one Cap'n Proto schema for all of them plus, per source, the C++ code
that encodes, decodes and registers the states defined in that source. Outputs
are rewritten only when their content changes; output is deterministic.

Compile flags come from the compilation database (-p <build dir>, the
directory of compile_commands.json), or from the flags after `--`.

With --history, the types are compared with the newest locked version:
identical types change nothing; compatible changes (new or removed members,
states and enumerators, renames declared with [[instadump::renamed_from]])
extend that version; a member whose type changes gets a new field and starts a
new version, converted automatically for lossless widenings and otherwise by a
migration the user writes (the error names its signature).

Exit status:
  0  outputs are up to date
  1  a source has an error: a parse error or an unsupported state (reported
     on stderr as file:line:col: error: ...), a migration is missing, or the
     history would change in locked mode
  2  usage error, missing compile command, or an output could not be written
)");

std::string absolute(const std::string& path) {
  llvm::SmallString<256> p(path);
  llvm::sys::fs::make_absolute(p);
  llvm::sys::path::remove_dots(p, true);
  return std::string(p);
}

int usage_error(const std::string& message) {
  llvm::errs() << "instadump-codegen: error: " << message << " (see --help)\n";
  return exit_usage_error;
}

int user_error(const std::string& message) {
  llvm::errs() << "instadump-codegen: error: " << message << "\n";
  return exit_user_error;
}

// An output could not be written: `message` says which and why.
int output_error(const std::string& message) {
  llvm::errs() << "instadump-codegen: error: " << message << "\n";
  return exit_usage_error;
}

bool locked_mode() {
  const char* env = std::getenv("INSTADUMP_LOCKED");
  return locked || (env && *env && std::string(env) != "0");
}

int write_history_header() {
  if (history_path.empty()) return usage_error("--history-header-only needs --history=<file.json>");
  schema_history h;
  if (std::string err = read_history(history_path, h); !err.empty()) return user_error(err);
  std::string err = write_if_changed(history_header_out, emit_history_header(h, target_name));
  return err.empty() ? exit_ok : output_error(err);
}

std::string bullet_list(const std::vector<std::string>& items) {
  std::string s;
  for (auto& i : items) s += "\n  - " + i;
  return s;
}

// Reconciles the model with the history file; returns exit_ok or an error.
int apply_history(model& m, schema_history& h) {
  if (std::string err = read_history(history_path, h); !err.empty()) return user_error(err);
  evolution_result ev = evolve(m, h);
  if (!ev.errors.empty()) {
    return user_error("the types cannot be reconciled with the schema history " + history_path.getValue() + ":" +
                      bullet_list(ev.errors));
  }
  if (ev.kind != evolution::identical && locked_mode()) {
    std::string what = ev.kind == evolution::first ? "would be created (there is none yet)"
                       : ev.kind == evolution::new_version
                           ? "would get version " + std::to_string(m.history_version)
                           : "would change (version " + std::to_string(m.history_version) + " extended)";
    return user_error("locked mode (INSTADUMP_LOCKED): the schema history " + history_path.getValue() + " " + what +
                      ", because:" + bullet_list(ev.changes) +
                      (ev.changes.empty() ? "\n  - (names or states recorded differently)" : std::string()) +
                      "\nBuild once without INSTADUMP_LOCKED, review the change to the history file and commit it.");
  }
  if (ev.kind != evolution::identical) {
    if (std::string err = write_if_changed(history_path, history_text(h)); !err.empty()) return output_error(err);
  }
  return exit_ok;
}

// Every migration the history requires must be defined in a scanned source.
int check_migrations(const model& m, const scan_results& results) {
  std::vector<std::string> missing = missing_migrations(m, results.migrations);
  if (missing.empty()) return exit_ok;
  std::string msg = "a stored snapshot may hold an older layout of a type or state whose type changed, and "
                    "this build has no migration for it. The schema history " + history_path.getValue() +
                    " is at version " + std::to_string(m.history_version) +
                    ". Define, in a source of target '" + target_name.getValue() +
                    "' scanned by instadump_add_state, after #include \"" + target_name.getValue() +
                    "_schema_history.h\":";
  for (auto& sig : missing) msg += "\n  " + sig + " { ... }";
  msg += "\nThe parameter holds the older value (nested values already converted); return the value in the "
         "newer layout. See 'Changing your types' in Instadump's README.";
  return user_error(msg);
}

// The sources, the outputs and the resource directory make sense together.
int check_arguments(const std::vector<std::string>& sources, const std::string& rdir) {
  if (sources.empty()) return usage_error("no sources to scan");
  if (schema_out.empty()) return usage_error("--schema-out=<file.capnp> is required");
  if (codec_out.size() != sources.size()) {
    return usage_error("expected one --codec-out per source: " + std::to_string(sources.size()) + " sources, " +
                       std::to_string(codec_out.size()) + " --codec-out");
  }
  if (!llvm::sys::fs::is_directory(rdir)) {
    return usage_error("clang's resource directory '" + rdir + "' does not exist; pass --resource-dir=$(clang++-19 "
                       "-print-resource-dir)");
  }
  return exit_ok;
}

// Stage 1: parses every source with its compile command from `compilations`
// and fills `results` with its states and their types, the states sorted by
// key and each defined once.
int scan(clang::tooling::CompilationDatabase& compilations, const std::string& rdir, scan_results& results) {
  filtered_database db(compilations, entry_filter);
  for (const std::string& s : results.sources) {
    if (db.getCompileCommands(s).empty()) {
      return usage_error("no compile command for '" + s + "' in the compilation database; is it a source of the "
                         "target, and was the project configured with CMAKE_EXPORT_COMPILE_COMMANDS?");
    }
  }
  // One ClangTool per source: the same work, without ClangTool's
  // "[1/N] Processing file" progress lines in every build log.
  bool failed = false;
  for (const std::string& source : results.sources) {
    clang::tooling::ClangTool tool(db, {source});
    // Warnings are the compiler's business when the target builds; the tool
    // reports only errors. The resource dir must be this Clang's own.
    tool.appendArgumentsAdjuster(clang::tooling::getInsertArgumentAdjuster(
        {"-w", "-resource-dir=" + rdir}, clang::tooling::ArgumentInsertPosition::END));
    failed = tool.run(make_finder_factory(results).get()) != 0 || failed;
  }
  if (failed) return exit_user_error;

  std::vector<state>& states = results.types_and_states.states;
  std::sort(states.begin(), states.end(), [](const state& a, const state& b) { return a.key < b.key; });
  for (std::size_t i = 1; i < states.size(); ++i) {
    if (states[i].key == states[i - 1].key) {
      report_detached(states[i].location, "state '" + states[i].key + "' is defined twice (also at " +
                                              states[i - 1].location +
                                              "); each state needs a unique fully qualified name");
      return exit_user_error;
    }
  }
  return exit_ok;
}

// Stage 3: writes the schema, one codec per source and the depfile.
int emit(const model& m, const schema_history& history, const scan_results& results) {
  schema_output schema = emit_schema(m, target_name);
  try {
    schema.layouts = layout_of(schema.text);
  } catch (const std::exception& e) {
    // The emitter's own text: a bug here, not in the user's code.
    llvm::errs() << "instadump-codegen: internal error: " << e.what() << "\n";
    return exit_usage_error;
  }

  std::string header = capnp_header.empty() ? std::string(llvm::sys::path::filename(schema_out.getValue())) + ".h"
                                            : capnp_header.getValue();
  std::vector<std::pair<std::string, std::string>> outputs{{schema_out, schema.text}};
  for (std::size_t i = 0; i < results.sources.size(); ++i) {
    outputs.emplace_back(codec_out[i], emit_codec(m, history, schema, i, results.sources[i], header,
                                                  history_header_name));
  }
  for (auto& [path, text] : outputs) {
    if (std::string err = write_if_changed(path, text); !err.empty()) return output_error(err);
  }
  if (depfile.empty()) return exit_ok;
  // The tool's own outputs (and capnp's header of its schema) are never
  // inputs: listing them would make a dependency cycle in the build.
  std::set<std::string> deps;
  for (const std::string& d : results.dependencies) {
    bool own = llvm::sys::path::filename(d) == header ||
               std::any_of(outputs.begin(), outputs.end(), [&](auto& o) { return absolute(o.first) == d; });
    if (!own) deps.insert(d);
  }
  std::string err = write_depfile(depfile, schema_out, deps);
  return err.empty() ? exit_ok : output_error(err);
}

}  // namespace

int main(int argc, const char** argv) {
  link_state_attribute();
  auto parsed = clang::tooling::CommonOptionsParser::create(argc, argv, category, cl::ZeroOrMore,
                                                            "instadump-codegen: [[instadump::state]] -> Cap'n Proto "
                                                            "schema + C++ codecs");
  if (!parsed) {
    llvm::errs() << "instadump-codegen: error: " << llvm::toString(parsed.takeError()) << "\n";
    return exit_usage_error;
  }
  if (target_name.empty()) return usage_error("--target=<name> is required");
  if (!history_header_out.empty()) return write_history_header();
  std::string rdir = resource_dir.empty() ? std::string(INSTADUMP_CLANG_RESOURCE_DIR) : resource_dir.getValue();
  if (int rc = check_arguments(parsed->getSourcePathList(), rdir); rc != exit_ok) return rc;

  scan_results results;
  for (const std::string& s : parsed->getSourcePathList()) results.sources.push_back(absolute(s));
  if (int rc = scan(parsed->getCompilations(), rdir, results); rc != exit_ok) return rc;

  // Stage 2: names, then the names and ordinals the history locks.
  model& m = results.types_and_states;
  assign_schema_names(m);
  schema_history history;
  if (!history_path.empty()) {
    if (int rc = apply_history(m, history); rc != exit_ok) return rc;
    if (int rc = check_migrations(m, results); rc != exit_ok) return rc;
  }
  return emit(m, history, results);
}

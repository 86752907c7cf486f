// The compile command the scanner parses a source with.
//
// instadump_add_state compiles each scanned source twice: in the user's
// target and in the hidden OBJECT library <target>_instadump_scan, whose
// compile (with its modmap and module BMIs) is the one to parse. So
// compile_commands.json lists several commands for one file, and the tool
// picks the one whose output path contains --entry-filter.
#pragma once

#include <string>
#include <vector>

#include <clang/Tooling/CompilationDatabase.h>

namespace instadump_codegen {

// A view of `inner` that gives, for each file, the compile command whose
// output (or any argument) contains `filter`; the first command when none
// does, all of them when `filter` is empty.
class filtered_database : public clang::tooling::CompilationDatabase {
 public:
  filtered_database(clang::tooling::CompilationDatabase& inner, std::string filter)
      : inner_(inner), filter_(std::move(filter)) {}
  std::vector<clang::tooling::CompileCommand> getCompileCommands(llvm::StringRef file) const override;
  std::vector<std::string> getAllFiles() const override { return inner_.getAllFiles(); }

 private:
  clang::tooling::CompilationDatabase& inner_;
  std::string filter_;
};

}  // namespace instadump_codegen

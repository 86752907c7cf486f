// Picking the scan's compile command (see compile_commands.h).
#include "scan/compile_commands.h"

#include <algorithm>

namespace instadump_codegen {

std::vector<clang::tooling::CompileCommand> filtered_database::getCompileCommands(llvm::StringRef file) const {
  auto all = inner_.getCompileCommands(file);
  if (filter_.empty() || all.size() <= 1) return all;
  for (auto& c : all) {
    if (c.Output.find(filter_) != std::string::npos) return {c};
    if (std::any_of(c.CommandLine.begin(), c.CommandLine.end(),
                    [&](const std::string& a) { return a.find(filter_) != std::string::npos; })) {
      return {c};
    }
  }
  return {all.front()};
}

}  // namespace instadump_codegen

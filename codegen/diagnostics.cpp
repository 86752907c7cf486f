// Diagnostics in the compiler's format (see diagnostics.h).
#include "diagnostics.h"

#include <clang/Basic/SourceManager.h>
#include <llvm/Support/raw_ostream.h>

namespace instadump_codegen {

void report(clang::DiagnosticsEngine& engine, clang::SourceLocation loc, const std::string& message) {
  unsigned id = engine.getCustomDiagID(clang::DiagnosticsEngine::Error, "%0");
  engine.Report(loc, id) << message;
}

void report_note(clang::DiagnosticsEngine& engine, clang::SourceLocation loc, const std::string& message) {
  unsigned id = engine.getCustomDiagID(clang::DiagnosticsEngine::Note, "%0");
  engine.Report(loc, id) << message;
}

void report_detached(const std::string& location, const std::string& message) {
  llvm::errs() << (location.empty() ? "instadump-codegen" : location) << ": error: " << message << "\n";
}

std::string location_string(const clang::SourceManager& sm, clang::SourceLocation loc) {
  clang::PresumedLoc p = sm.getPresumedLoc(sm.getExpansionLoc(loc));
  if (p.isInvalid()) return {};
  return std::string(p.getFilename()) + ":" + std::to_string(p.getLine()) + ":" + std::to_string(p.getColumn());
}

}  // namespace instadump_codegen

// Finding and checking [[instadump::state]] variables (see finder.h).
#include "scan/finder.h"

#include <algorithm>

#include <clang/AST/ASTConsumer.h>
#include <clang/AST/Attr.h>
#include <clang/AST/RecursiveASTVisitor.h>
#include <clang/Basic/SourceManager.h>
#include <clang/Frontend/CompilerInstance.h>
#include <clang/Frontend/FrontendAction.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/Path.h>

#include "diagnostics.h"
#include "scan/attribute.h"
#include "scan/reflector.h"
#include "scan/spelling.h"

namespace instadump_codegen {
namespace {

bool is_state(const clang::VarDecl* v) {
  for (const auto* a : v->specific_attrs<clang::AnnotateAttr>()) {
    if (a->getAnnotation() == state_annotation) return true;
  }
  return false;
}

// Collects annotated variables (checked after the traversal) and the
// definitions of instadump::schema::migrate, visiting what was parsed but
// not template instantiations: a state or a migration is never one (a state
// in a template is reported at its pattern), and visiting them would read
// every specialization of a system header's templates from the imported
// module's BMI.
class collector : public clang::RecursiveASTVisitor<collector> {
 public:
  bool shouldVisitTemplateInstantiations() const { return false; }
  bool shouldVisitImplicitCode() const { return false; }

  bool VisitVarDecl(clang::VarDecl* v) {
    if (!v->isFromASTFile() && is_state(v)) states.push_back(v);
    return true;
  }
  // Definitions of instadump::schema::migrate(const vN::...& old), by the
  // value type they read ("instadump::schema::v1::shop::Item").
  bool VisitFunctionDecl(clang::FunctionDecl* f) {
    const clang::IdentifierInfo* name = f->getIdentifier();
    if (!name || name->getName() != "migrate" || f->getNumParams() != 1 || !f->isThisDeclarationADefinition()) {
      return true;
    }
    if (f->getQualifiedNameAsString() != "instadump::schema::migrate") return true;
    const clang::CXXRecordDecl* rd = f->getParamDecl(0)->getType().getNonReferenceType()->getAsCXXRecordDecl();
    if (rd) migrations.insert(rd->getQualifiedNameAsString());
    return true;
  }

  std::vector<const clang::VarDecl*> states;
  std::set<std::string> migrations;
};

class consumer : public clang::ASTConsumer {
 public:
  consumer(clang::CompilerInstance& ci, scan_results& results) : ci_(ci), results_(results) {}

  // Top-level declarations parsed from the scanned source and the headers
  // it includes.
  bool HandleTopLevelDecl(clang::DeclGroupRef group) override {
    parsed_.insert(parsed_.end(), group.begin(), group.end());
    return true;
  }
  // Declarations the AST reader hands over from the imported modules' BMIs
  // (by default passed on as top-level ones) are never the user's.
  void HandleInterestingDecl(clang::DeclGroupRef) override {}

  void HandleTranslationUnit(clang::ASTContext& ctx) override {
    collect_dependencies(ctx.getSourceManager());
    if (ctx.getDiagnostics().hasErrorOccurred()) return;  // the run fails; don't reflect a recovered AST
    // Only what was parsed is visited: traversing the translation unit
    // would deserialize every declaration of `import instadump;` (the
    // standard library, Cap'n Proto, the runtime) from its BMI, which was
    // ~85% of a scan's time (18 s for a one-state source; now 3 s).
    // (Moved out: a traversal may deserialize declarations, and whatever
    // reaches the consumer meanwhile must not touch the list it walks.)
    const std::vector<clang::Decl*> parsed = std::move(parsed_);
    collector c;
    for (clang::Decl* d : parsed) c.TraverseDecl(d);
    std::set<const clang::VarDecl*> seen;
    for (const clang::VarDecl* v : c.states) {
      if (seen.insert(v->getCanonicalDecl()).second) check_state(ctx, v);
    }
    results_.migrations.insert(c.migrations.begin(), c.migrations.end());
  }

 private:
  void collect_dependencies(const clang::SourceManager& sm) {
    for (auto it = sm.fileinfo_begin(); it != sm.fileinfo_end(); ++it) {
      llvm::SmallString<256> p(it->first.getName());
      llvm::sys::fs::make_absolute(p);
      llvm::sys::path::remove_dots(p, true);
      results_.dependencies.insert(std::string(p));
    }
  }

  void check_state(clang::ASTContext& ctx, const clang::VarDecl* decl) {
    clang::DiagnosticsEngine& diags = ctx.getDiagnostics();
    const clang::SourceManager& sm = ctx.getSourceManager();
    const clang::VarDecl* v = decl->getDefinition();
    if (!v) return;  // declared here, defined (and registered) by another file
    clang::SourceLocation loc = v->getLocation();
    if (!sm.isInMainFile(sm.getExpansionLoc(loc))) {
      report(diags, loc,
             "a state must be defined in a source file scanned by instadump_add_state, not in a header (it would "
             "be registered once per file including it); declare it 'extern' in the header and define it in one "
             ".cpp file");
      return;
    }
    if (v->getDeclContext()->isFunctionOrMethod() || !v->hasGlobalStorage()) {
      report(diags, loc, "instadump::state applies to variables at namespace scope and static data members, not to "
                         "local variables");
      return;
    }
    if (v->getTLSKind() != clang::VarDecl::TLS_None) {
      report(diags, loc, "a state cannot be thread_local: a state is one value shared by the whole program");
      return;
    }
    if (v->getDeclContext()->isDependentContext()) {
      report(diags, loc, "a state cannot be a member of a class template; use a non-template class or a namespace");
      return;
    }
    if (v->isStaticDataMember() && v->getAccess() != clang::AS_public) {
      report(diags, loc, "a state that is a static data member must be public so the generated registration can "
                         "name it; make it public or move it to a namespace");
      return;
    }
    reflector refl(ctx, ci_.getSema(), results_.types_and_states);
    std::string key = qualified_name(v);
    clang::QualType type = v->getType();
    auto* spec = llvm::dyn_cast_or_null<clang::ClassTemplateSpecializationDecl>(
        type.getCanonicalType()->getAsCXXRecordDecl());
    if (!spec || qualified_name(spec) != "instadump::ref" || type.isConstQualified()) {
      report(diags, loc,
             "the type of state '" + key + "' must be instadump::ref<T>; found '" + type.getAsString() +
                 "': declare it as [[instadump::state]] instadump::ref<" +
                 (spec ? std::string("T") : type.getUnqualifiedType().getAsString()) + "> " + v->getNameAsString() +
                 "{...};");
      return;
    }
    std::string type_key = refl.reflect(spec->getTemplateArgs()[0].getAsType(), key, loc);
    if (type_key.empty()) return;
    std::string main = main_file(sm);
    auto pos = std::find(results_.sources.begin(), results_.sources.end(), main);
    state s;
    s.key = key;
    s.cpp_expr = "::" + key;
    s.type = type_key;
    s.source = static_cast<std::size_t>(pos - results_.sources.begin());
    s.location = location_string(sm, loc);
    s.renamed_from = renamed_from(v);
    if (s.renamed_from.rfind("::", 0) == 0) s.renamed_from.erase(0, 2);
    results_.types_and_states.states.push_back(std::move(s));
  }

  std::string main_file(const clang::SourceManager& sm) {
    auto entry = sm.getFileEntryRefForID(sm.getMainFileID());
    llvm::SmallString<256> p(entry ? entry->getName() : "");
    llvm::sys::fs::make_absolute(p);
    llvm::sys::path::remove_dots(p, true);
    return std::string(p);
  }

  clang::CompilerInstance& ci_;
  scan_results& results_;
  std::vector<clang::Decl*> parsed_;
};

class action : public clang::ASTFrontendAction {
 public:
  explicit action(scan_results& results) : results_(results) {}
  std::unique_ptr<clang::ASTConsumer> CreateASTConsumer(clang::CompilerInstance& ci, llvm::StringRef) override {
    return std::make_unique<consumer>(ci, results_);
  }

 private:
  scan_results& results_;
};

class factory : public clang::tooling::FrontendActionFactory {
 public:
  explicit factory(scan_results& results) : results_(results) {}
  std::unique_ptr<clang::FrontendAction> create() override { return std::make_unique<action>(results_); }

 private:
  scan_results& results_;
};

}  // namespace

std::unique_ptr<clang::tooling::FrontendActionFactory> make_finder_factory(scan_results& results) {
  return std::make_unique<factory>(results);
}

}  // namespace instadump_codegen

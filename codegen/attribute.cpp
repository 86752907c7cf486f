// Registers [[instadump::state]] with Clang's ParsedAttrInfo registry, so the
// AST keeps it (as an AnnotateAttr) instead of dropping an unknown attribute.
//
// Ordinary compiles don't know the attribute and ignore it (instadump_add_state
// silences exactly that warning); inside this tool it is checked where it is
// written: it applies to variables with static storage duration only.
#include "attribute.h"

#include <clang/AST/Attr.h>
#include <clang/AST/Decl.h>
#include <clang/Basic/ParsedAttrInfo.h>
#include <clang/Sema/ParsedAttr.h>
#include <clang/Sema/Sema.h>

namespace instadump_codegen {
namespace {

class state_attribute : public clang::ParsedAttrInfo {
 public:
  state_attribute() {
    static constexpr Spelling spellings[] = {{clang::ParsedAttr::AS_CXX11, "instadump::state"}};
    Spellings = spellings;
    NumArgs = 0;
    OptArgs = 0;
  }

  bool diagAppertainsToDecl(clang::Sema& sema, const clang::ParsedAttr& attr, const clang::Decl* decl) const override {
    auto* var = llvm::dyn_cast<clang::VarDecl>(decl);
    if (var && var->hasGlobalStorage() && !var->isStaticLocal() && !llvm::isa<clang::ParmVarDecl>(var)) return true;
    unsigned id = sema.getDiagnostics().getCustomDiagID(
        clang::DiagnosticsEngine::Error,
        "instadump::state applies to variables at namespace scope and static data members; %0");
    sema.Diag(attr.getLoc(), id) << (var && var->isStaticLocal() ? "this is a function-local static"
                                     : var                       ? "this is a local variable"
                                                                 : "this is not a variable");
    return false;
  }

  AttrHandling handleDeclAttribute(clang::Sema& sema, clang::Decl* decl, const clang::ParsedAttr& attr) const override {
    if (attr.getNumArgs() != 0) {
      unsigned id = sema.getDiagnostics().getCustomDiagID(clang::DiagnosticsEngine::Error,
                                                          "instadump::state takes no arguments");
      sema.Diag(attr.getLoc(), id);
      return AttributeNotApplied;
    }
    decl->addAttr(clang::AnnotateAttr::Create(sema.Context, state_annotation, nullptr, 0, attr.getRange()));
    return AttributeApplied;
  }
};

clang::ParsedAttrInfoRegistry::Add<state_attribute> registration("instadump_state",
                                                                 "[[instadump::state]] durable global state");

}  // namespace

void link_state_attribute() {}

}  // namespace instadump_codegen

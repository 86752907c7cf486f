// Registers [[instadump::state]] and [[instadump::persist_private]] with
// Clang's ParsedAttrInfo registry, so the AST keeps them (as AnnotateAttrs)
// instead of dropping unknown attributes.
//
// Ordinary compiles don't know the attribute and ignore it (instadump_add_state
// silences exactly that warning); inside this tool it is checked where it is
// written: it applies to variables with static storage duration only.
#include "scan/attribute.h"

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

// [[instadump::persist_private]] on a struct or class: the opt-in for
// persisting its non-public data members.
class persist_private_attribute : public clang::ParsedAttrInfo {
 public:
  persist_private_attribute() {
    static constexpr Spelling spellings[] = {{clang::ParsedAttr::AS_CXX11, "instadump::persist_private"}};
    Spellings = spellings;
  }

  bool diagAppertainsToDecl(clang::Sema& sema, const clang::ParsedAttr& attr, const clang::Decl* decl) const override {
    if (auto* rd = llvm::dyn_cast<clang::CXXRecordDecl>(decl); rd && !rd->isUnion()) return true;
    unsigned id = sema.getDiagnostics().getCustomDiagID(clang::DiagnosticsEngine::Error,
                                                        "instadump::persist_private applies to structs and classes");
    sema.Diag(attr.getLoc(), id);
    return false;
  }

  AttrHandling handleDeclAttribute(clang::Sema& sema, clang::Decl* decl, const clang::ParsedAttr& attr) const override {
    decl->addAttr(clang::AnnotateAttr::Create(sema.Context, persist_private_annotation, nullptr, 0, attr.getRange()));
    return AttributeApplied;
  }
};

// [[instadump::renamed_from("old")]] on a data member of a persisted type or
// on a state: its previous name, so the schema history keeps its ordinal (or
// the state's stored value) instead of seeing a removal and an addition.
class renamed_from_attribute : public clang::ParsedAttrInfo {
 public:
  renamed_from_attribute() {
    // The unscoped spelling is there for the parser: clang 19 decides whether
    // to parse a C++11 attribute's arguments by asking plugins about the name
    // without its scope (clang::hasAttribute), so without it the argument of
    // [[instadump::renamed_from("x")]] would be skipped.
    static constexpr Spelling spellings[] = {{clang::ParsedAttr::AS_CXX11, "instadump::renamed_from"},
                                             {clang::ParsedAttr::AS_CXX11, "renamed_from"}};
    Spellings = spellings;
    OptArgs = 1;  // checked in handleDeclAttribute, with a better message than "takes one argument"
  }

  bool diagAppertainsToDecl(clang::Sema& sema, const clang::ParsedAttr& attr, const clang::Decl* decl) const override {
    if (llvm::isa<clang::FieldDecl>(decl)) return true;
    if (auto* var = llvm::dyn_cast<clang::VarDecl>(decl); var && var->hasGlobalStorage()) return true;
    unsigned id = sema.getDiagnostics().getCustomDiagID(
        clang::DiagnosticsEngine::Error, "instadump::renamed_from applies to data members and to states");
    sema.Diag(attr.getLoc(), id);
    return false;
  }

  AttrHandling handleDeclAttribute(clang::Sema& sema, clang::Decl* decl, const clang::ParsedAttr& attr) const override {
    auto* literal = attr.getNumArgs() == 1 && attr.isArgExpr(0)
                        ? llvm::dyn_cast<clang::StringLiteral>(attr.getArgAsExpr(0)->IgnoreParenCasts())
                        : nullptr;
    if (!literal || literal->getString().empty()) {
      unsigned id = sema.getDiagnostics().getCustomDiagID(
          clang::DiagnosticsEngine::Error,
          "instadump::renamed_from takes the previous name as a string literal, e.g. "
          "[[instadump::renamed_from(\"old_name\")]]");
      sema.Diag(attr.getLoc(), id);
      return AttributeNotApplied;
    }
    std::string text = std::string(renamed_from_annotation) + literal->getString().str();
    decl->addAttr(clang::AnnotateAttr::Create(sema.Context, text, nullptr, 0, attr.getRange()));
    return AttributeApplied;
  }
};

clang::ParsedAttrInfoRegistry::Add<renamed_from_attribute> renamed_from_registration(
    "instadump_renamed_from", "[[instadump::renamed_from(\"old\")]] the previous name of a member or state");

clang::ParsedAttrInfoRegistry::Add<persist_private_attribute> persist_private_registration(
    "instadump_persist_private", "[[instadump::persist_private]] persist non-public data members");

clang::ParsedAttrInfoRegistry::Add<state_attribute> registration("instadump_state",
                                                                 "[[instadump::state]] durable global state");

}  // namespace

void link_state_attribute() {}

}  // namespace instadump_codegen

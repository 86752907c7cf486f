// The type reflector: turns the T of an instadump::ref<T> into the model,
// recursively, or reports why it cannot be persisted. How the types are
// spelled in the model is scan/spelling.h.
#pragma once

#include <map>
#include <set>
#include <string>

#include <clang/AST/ASTContext.h>
#include <clang/AST/Type.h>
#include <clang/Sema/Sema.h>

#include "model/model.h"

namespace instadump_codegen {

class reflector {
 public:
  // Adds types to `out`; reports errors through the context's diagnostics.
  reflector(clang::ASTContext& ctx, clang::Sema& sema, model& out) : ctx_(ctx), sema_(sema), out_(out) {}

  // Reflects `type` reached through `path` (e.g. "shop::stock → Item::owner").
  // Errors about `type` itself are reported at `where` (the member or state
  // declaration); errors inside it at the offending member. Returns the
  // type's key in the model, or "" after reporting an error.
  std::string reflect(clang::QualType type, const std::string& path, clang::SourceLocation where);

 private:
  std::string reflect_builtin(clang::QualType t, const clang::BuiltinType* bt, const std::string& path,
                              clang::SourceLocation where);
  std::string reflect_enum(clang::QualType t, const clang::EnumDecl* ed, const std::string& path,
                           clang::SourceLocation where);
  std::string reflect_std(clang::QualType t, const clang::ClassTemplateSpecializationDecl* spec,
                          const std::string& name, const std::string& path, clang::SourceLocation where);
  std::string reflect_record(clang::QualType t, const clang::CXXRecordDecl* rd, const std::string& path,
                             clang::SourceLocation where);
  bool opted_in_private(const clang::CXXRecordDecl* rd) const;
  bool add_fields(const clang::CXXRecordDecl* rd, const std::string& owner, type_node& node,
                  const std::string& path, clang::SourceLocation where);
  std::string ratio_text(clang::QualType ratio) const;
  std::string fail(clang::SourceLocation where, const std::string& path, const std::string& what);
  std::string add(clang::QualType t, type_node node);

  clang::ASTContext& ctx_;
  clang::Sema& sema_;
  model& out_;
  std::set<const clang::Type*> failed_;
  std::map<const clang::Type*, std::string> done_;
};

}  // namespace instadump_codegen

// How reflected types and declarations are spelled (see spelling.h).
#include "scan/spelling.h"

#include <cctype>

#include <clang/AST/DeclCXX.h>
#include <clang/AST/DeclTemplate.h>
#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/raw_ostream.h>

namespace instadump_codegen {
namespace {

// "std::basic_string<char>" -> "StdBasicStringChar": a readable name piece.
std::string fragment_of(const std::string& spelled) {
  std::string out;
  bool up = true;
  for (char c : spelled) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
      up = false;
    } else {
      up = true;
    }
  }
  return out;
}

// "::a::b::" for the scope of `decl`, anonymous namespaces left out (generated
// code is compiled in the same translation unit, where their members are
// reachable without naming them), inline namespaces kept (so the spelling is
// never ambiguous).
std::string spell_scope(const clang::Decl* decl, const clang::ASTContext& ctx) {
  std::string scope = "::";
  std::vector<std::string> parts;
  for (const clang::DeclContext* dc = decl->getDeclContext(); dc && !dc->isTranslationUnit(); dc = dc->getParent()) {
    if (auto* ns = llvm::dyn_cast<clang::NamespaceDecl>(dc)) {
      if (!ns->isAnonymousNamespace()) parts.push_back(ns->getNameAsString());
    } else if (auto* rd = llvm::dyn_cast<clang::CXXRecordDecl>(dc)) {
      // A nested type: spell the enclosing class (with its template arguments) and stop.
      std::string outer = spell_type(ctx.getRecordType(rd), ctx);
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) outer += "::" + *it;
      return outer + "::";
    }
  }
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) scope += *it + "::";
  return scope;
}

std::string spell_argument(const clang::TemplateArgument& a, const clang::ASTContext& ctx) {
  switch (a.getKind()) {
    case clang::TemplateArgument::Type: return spell_type(a.getAsType(), ctx);
    case clang::TemplateArgument::Integral: {
      std::string v = llvm::toString(a.getAsIntegral(), 10);
      if (a.getIntegralType()->isBooleanType()) return a.getAsIntegral() != 0 ? "true" : "false";
      return v;
    }
    case clang::TemplateArgument::Pack: {
      std::string s;
      for (const auto& e : a.pack_elements()) s += (s.empty() ? "" : ", ") + spell_argument(e, ctx);
      return s;
    }
    default: {
      std::string s;
      llvm::raw_string_ostream os(s);
      a.print(ctx.getPrintingPolicy(), os, /*IncludeType=*/true);
      return os.str();
    }
  }
}

}  // namespace

std::string spell_type(clang::QualType t, const clang::ASTContext& ctx) {
  t = t.getCanonicalType();
  std::string cv;
  if (t.isConstQualified()) cv += "const ";
  if (t.isVolatileQualified()) cv += "volatile ";
  t = t.getUnqualifiedType();
  if (auto* et = t->getAs<clang::EnumType>()) return cv + spell_scope(et->getDecl(), ctx) + et->getDecl()->getNameAsString();
  if (auto* rd = t->getAsCXXRecordDecl()) {
    std::string s = cv + spell_scope(rd, ctx) + rd->getNameAsString();
    if (auto* spec = llvm::dyn_cast<clang::ClassTemplateSpecializationDecl>(rd)) {
      // Trailing arguments equal to their defaults are left out (as people
      // write them: std::vector<T>, not std::vector<T, std::allocator<T>>);
      // the spelling names the same type, and stays readable in the schema
      // history. isSubstitutedDefaultArgument only reads the context.
      llvm::ArrayRef<clang::TemplateArgument> all = spec->getTemplateArgs().asArray();
      const clang::TemplateParameterList* params = spec->getSpecializedTemplate()->getTemplateParameters();
      std::size_t n = all.size();
      while (n > 0 && n - 1 < params->size() &&
             clang::isSubstitutedDefaultArgument(const_cast<clang::ASTContext&>(ctx), all[n - 1],
                                                 params->getParam(n - 1), all, params->getDepth())) {
        --n;
      }
      std::string args;
      for (std::size_t i = 0; i < n; ++i) {
        std::string one = spell_argument(all[i], ctx);
        if (!one.empty()) args += (args.empty() ? "" : ", ") + one;
      }
      s += "<" + args + ">";
      // std::string is exactly std::basic_string<char> (in any inline namespace).
      if (args == "char" && rd->getName() == "basic_string" && spell_scope(rd, ctx).rfind("::std::", 0) == 0) {
        return cv + "::std::string";
      }
    }
    return s;
  }
  clang::PrintingPolicy policy(ctx.getLangOpts());
  policy.Bool = true;
  return cv + t.getAsString(policy);
}

std::string qualified_name(const clang::NamedDecl* decl) {
  // Inline and anonymous namespaces are left out ("std::__cxx11::basic_string"
  // is "std::basic_string"): they are never written, and matching on them
  // would tie the tool to one standard library's internals.
  std::string name = decl->getNameAsString();
  for (const clang::DeclContext* dc = decl->getDeclContext(); dc && !dc->isTranslationUnit(); dc = dc->getParent()) {
    if (auto* ns = llvm::dyn_cast<clang::NamespaceDecl>(dc)) {
      if (ns->isInline() || ns->isAnonymousNamespace()) continue;
      name = ns->getNameAsString() + "::" + name;
    } else if (auto* rd = llvm::dyn_cast<clang::RecordDecl>(dc)) {
      name = rd->getNameAsString() + "::" + name;
    } else if (llvm::isa<clang::LinkageSpecDecl>(dc) || llvm::isa<clang::ExportDecl>(dc)) {
      continue;
    } else {
      break;
    }
  }
  return name;
}

std::vector<std::string> template_arg_fragments(const clang::CXXRecordDecl* rd) {
  std::vector<std::string> out;
  auto* spec = llvm::dyn_cast<clang::ClassTemplateSpecializationDecl>(rd);
  if (!spec) return out;
  for (const auto& a : spec->getTemplateArgs().asArray()) {
    if (a.getKind() == clang::TemplateArgument::Type) out.push_back(fragment_of(a.getAsType().getAsString()));
    if (a.getKind() == clang::TemplateArgument::Integral) out.push_back("N" + llvm::toString(a.getAsIntegral(), 10));
  }
  return out;
}

}  // namespace instadump_codegen

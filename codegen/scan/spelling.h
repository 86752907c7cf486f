// How the scanner spells what it reflects: a Clang type as C++ that the
// generated code can use, a declaration's qualified name as people write it,
// and template arguments as pieces of Cap'n Proto names.
//
// The spellings are keys of the model and of the schema history (a type is
// known by its spelling there), so any change to them is a change of the
// stored history: keep them stable.
#pragma once

#include <string>
#include <vector>

#include <clang/AST/ASTContext.h>
#include <clang/AST/Decl.h>
#include <clang/AST/Type.h>

namespace instadump_codegen {

// The fully qualified spelling of `type` (canonical), valid in generated code
// at namespace scope of the translation unit it came from: "::shop::Item",
// "::std::vector<::shop::Item>", "::std::string". Anonymous namespaces are
// left out (the code is compiled in the same translation unit), inline
// namespaces kept (so the spelling is never ambiguous), and trailing template
// arguments equal to their defaults dropped.
std::string spell_type(clang::QualType type, const clang::ASTContext& ctx);

// Qualified name of a declaration without unwritten scopes: inline and
// anonymous namespaces, extern "C++" and export blocks are left out
// ("std::basic_string", "shop::Item").
std::string qualified_name(const clang::NamedDecl* decl);

// Name pieces for the template arguments of a class template specialization
// ("Int", "StdBasicStringChar", "N4"), empty for any other record.
std::vector<std::string> template_arg_fragments(const clang::CXXRecordDecl* rd);

}  // namespace instadump_codegen

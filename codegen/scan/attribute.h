// The [[instadump::state]] and [[instadump::persist_private]] attributes as the
// tool's Clang sees them.
#pragma once

#include <string>

#include <clang/AST/Attr.h>

namespace instadump_codegen {

// The annotation the attribute leaves on a declaration (an AnnotateAttr), which
// the finder looks for.
inline constexpr const char* state_annotation = "instadump::state";
// Left by [[instadump::persist_private]] on a class: its private and protected
// data members are persisted too.
inline constexpr const char* persist_private_annotation = "instadump::persist_private";

// Prefix of the annotation left by [[instadump::renamed_from("old")]]; the
// previous name follows it.
inline constexpr const char* renamed_from_annotation = "instadump::renamed_from=";

// The previous name given by [[instadump::renamed_from]] on `decl`, or "".
template <class Decl>
std::string renamed_from(const Decl* decl) {
  std::string prefix = renamed_from_annotation;
  for (const auto* a : decl->template specific_attrs<clang::AnnotateAttr>()) {
    llvm::StringRef s = a->getAnnotation();
    if (s.starts_with(prefix)) return s.substr(prefix.size()).str();
  }
  return {};
}

// Forces the registration in attribute.cpp to be linked in (call once from main).
void link_state_attribute();

}  // namespace instadump_codegen

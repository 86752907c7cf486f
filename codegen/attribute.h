// The [[instadump::state]] attribute as the tool's Clang sees it.
#pragma once

namespace instadump_codegen {

// The annotation the attribute leaves on a declaration (an AnnotateAttr), which
// the finder looks for.
inline constexpr const char* state_annotation = "instadump::state";

// Forces the registration in attribute.cpp to be linked in (call once from main).
void link_state_attribute();

}  // namespace instadump_codegen

// The [[instadump::state]] and [[instadump::persist_private]] attributes as the
// tool's Clang sees them.
#pragma once

namespace instadump_codegen {

// The annotation the attribute leaves on a declaration (an AnnotateAttr), which
// the finder looks for.
inline constexpr const char* state_annotation = "instadump::state";
// Left by [[instadump::persist_private]] on a class: its private and protected
// data members are persisted too.
inline constexpr const char* persist_private_annotation = "instadump::persist_private";

// Forces the registration in attribute.cpp to be linked in (call once from main).
void link_state_attribute();

}  // namespace instadump_codegen

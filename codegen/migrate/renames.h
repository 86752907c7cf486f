// [[instadump::renamed_from]] checked against the schema history.
//
// A rename moves stored data only if it names something the history holds:
// a typo ("nmae" for "name") would otherwise read as a removal plus an
// addition, and the stored values would be dropped without a word. So a
// rename that names nothing fails the build, naming what it looked for and
// what exists. A rename the history already records (the member or state is
// there under its new name) needs no check: the attribute may stay in the
// source for good.
#pragma once

#include <string>
#include <vector>

#include "model/model.h"

namespace instadump_codegen {

// The key of the state in `locked` (the newest history version) that the
// current state `s` is renamed from -- s.renamed_from as a whole key,
// relative to the namespace of s.key ("motd" on game::message finds
// game::motd), or else as the unambiguous last part of one key -- or "" when
// it names none or several; then an error is added to `errors`.
// REQUIRES: s.renamed_from is not empty and `locked` holds no state s.key.
std::string resolve_state_rename(const state& s, const model& locked, std::vector<std::string>& errors);

// Adds to `errors` one message for every member of the current record `t`
// renamed from a name that is no live member of `locked` (its newest
// history version; null when the record is new in this build), or from a
// member that `t` still has. Members found in `locked` under their own name
// are not checked (their rename is recorded).
void check_member_renames(const type_node& t, const type_node* locked, std::vector<std::string>& errors);

}  // namespace instadump_codegen

// The names of the value types of older layouts, which user migrations read
// and return, and which migrations a build must define.
//
// A record changed by a migration in history version c has a value type per
// layout, `instadump::schema::v<N>::<qualified name>`; a state whose own type
// changed has a wrapper `instadump::schema::v<N>::<key>_state {T value;}`.
// The history header (history_header.h) declares them, the generated
// decoders (migration_emitter.h) fill them, and the user's
// `instadump::schema::migrate` converts one into the next.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "model/model.h"

namespace instadump_codegen {

// The value type of record `t` in history version `v`:
// "::instadump::schema::v2::shop::Item".
std::string versioned_record_name(const type_node& t, unsigned v);
// The wrapper struct {T value;} of state `key` in history version `v`:
// "::instadump::schema::v1::shop::items_state".
std::string versioned_state_name(const std::string& key, unsigned v);

// The name of the value type of record `record` as of history version `v`
// (or, with `record` empty, of the wrapper struct {T value;} of state
// `state`), and the signature of the migration into version `v`.
std::string versioned_name(const model& m, const std::string& record, const std::string& state, unsigned v);
std::string migration_signature(const model& m, const std::string& record, const std::string& state, unsigned v);

// The state `s` as recorded in history version `version` (under its key
// then: its current key or one of its previous keys), or null.
const state* state_in(const model& version, const state& s);

// The signatures of the migrations the history of `m` requires (evolve.h,
// all_migrations) that are not among `defined`: the qualified names of the
// older value types the scanned sources define a migrate for
// ("instadump::schema::v1::shop::Item").
std::vector<std::string> missing_migrations(const model& m, const std::set<std::string>& defined);

}  // namespace instadump_codegen

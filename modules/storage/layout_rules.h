// Where the writer puts a snapshot's values and names, as rules that the
// journal relies on too: a journaled save predicts, before anything reaches
// data.mdb, the blob and key ids and the offsets the writer will give its
// snapshot (journal_planner.h), and the writer later checks that it wrote
// the snapshot exactly there (journal_replay.h). Change a rule here and
// both follow.
//
// Internal to instadump_storage. Not part of the on-disk format: stores
// written under other rules read the same (records say where every value is).
#pragma once

#include <cstdint>

namespace instadump::storage {

// New values smaller than this go side by side into one blob per snapshot
// (the "packed" blob); larger ones get a blob of their own, so that a small
// value that stays in later snapshots never keeps a large dead one's pages
// from being reused. A journal entry holds one blob, so only snapshots made
// of packed values are journaled.
inline constexpr std::uint64_t kPackedValueBytes = 16 * 1024;

// Key ids below this are kept in vectors indexed by id (the writer's names,
// the journal plan's names and sizes); a store whose ids reach it is still
// written, but its saves are no longer journaled.
inline constexpr std::uint64_t kIndexedKeyIds = std::uint64_t{1} << 32;

}  // namespace instadump::storage

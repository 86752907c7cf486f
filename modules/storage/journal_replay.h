// Writing a journaled snapshot into data.mdb: the entry becomes the save it
// was planned as (its values by name, their bytes from the entry's blob),
// the writer writes it like a direct save into the journal's batch, and the
// result is checked against the entry: the ids the save returned when it
// was journaled must be the ids in data.mdb.
//
// Internal to instadump_storage.
#pragma once

#include <lmdb.h>

#include <cstdint>

#include "common/thread_safety.h"
#include "storage/journal_codec.h"
#include "storage/lmdb_writer.h"

namespace instadump::storage {

// Writes `entry` with `writer` into `txn`, the transaction of a batch the
// writer has started; returns the bytes it freed. Throws storage_error when
// data.mdb's newest snapshot is not the one the entry builds on, the entry
// names a key id data.mdb does not know, or the snapshot landed other than
// the entry says (a bug); and what the writer throws (save_failed, also for
// chunks that fail its checks, which the journal checked when it planned
// the entry: a bug, too).
std::uint64_t replay_journaled(lmdb_writer& writer, MDB_txn* txn, const journal_entry& entry)
    REQUIRES(writer.env().mu);

}  // namespace instadump::storage

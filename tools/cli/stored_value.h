// One stored value, decoded with the schema stored for it and walked into
// an emitter: the `value` field of the state's root struct; for a
// collection stored node by node (chunks, docs/FORMAT.md), the
// collection assembled leaf by leaf from its chunks, each leaf decoded with
// the schema its chunk names; for a struct state whose collection members
// are stored so (format 7, ChunkedMembers), its value with each member's
// collection assembled in place. Problems (no schema stored, a schema that
// does not parse, bytes that do not match it, a missing or damaged chunk)
// are reported through the walker, in place of the value or the part.
#pragma once

#include "instadump/capnp_compat.h"  // before any Cap'n Proto header

#include <capnp/common.h>

#include "storage/snapshot_store.h"
#include "stored_schemas.h"
#include "value_walker.h"

namespace instadump::cli {

// Walks the value of `entry`, whose bytes are `words` (as read_snapshot's
// visitor gets them), reading its chunks from `chunks`.
void walk_stored_value(const storage::entry_info& entry, kj::ArrayPtr<const capnp::word> words,
                       const storage::chunk_source& chunks, schema_library& schemas, value_walker& walker);

}  // namespace instadump::cli

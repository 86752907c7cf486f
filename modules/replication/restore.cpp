// restore_from_copy (restore.h): a replicated snapshot into a local store.
#include "replication/restore.h"

#include <string>
#include <vector>

#include "common/errors.h"
#include "replication/copy_snapshot.h"

namespace instadump::replication {
std::uint64_t restore_from_copy(replicated_copy& copy, storage::snapshot_store& local,
                                std::optional<std::uint64_t> seq) {
  return restore_snapshot_from_copy(copy, local, seq).local_id;
}

restored_snapshot restore_snapshot_from_copy(replicated_copy& copy, storage::snapshot_store& local,
                                             std::optional<std::uint64_t> seq) {
  if (local.newest()) {
    throw invalid_option("instadump replication of store \"" + copy.store() + "\": restore into \"" +
                         local.directory().string() + "\" refused: it holds snapshots already (use an empty "
                         "directory)");
  }
  std::optional<copy_head> head = copy.head();
  if (!head) {
    if (seq) {
      throw replication_error("instadump replication of store \"" + copy.store() + "\": no replicated snapshot " +
                              std::to_string(*seq) + " (the copy is empty)");
    }
    return {};
  }
  const std::uint64_t at = seq.value_or(head->seq);
  if (at == 0 || at > head->seq) {
    throw replication_error("instadump replication of store \"" + copy.store() + "\": no replicated snapshot " +
                            std::to_string(at) + " (the newest is " + std::to_string(head->seq) + ")");
  }

  copy_snapshot snapshot("instadump replication of store \"" + copy.store() + "\", replicated snapshot " +
                         std::to_string(at));
  restored_snapshot restored;
  restored.seq = at;
  copy.read_values(at, [&](std::string_view key, const copy_entry& e, std::span<const std::byte> bytes) {
    snapshot.add_value(key, e, bytes, "restore an older snapshot");
    restored.entries.emplace(std::string(key), e);
  });
  snapshot.read_chunks(copy, 0);
  storage::snapshot_delta delta = snapshot.delta();
  // The copy may hold chunks with larger ids than these (of newer
  // snapshots, or ones no snapshot reaches any more): the store goes on past
  // all of them, so a chunk it writes never takes an id the copy has.
  delta.next_chunk_id_floor = copy.next_chunk_id();
  const std::vector<storage::schema_record> schemas = copy.read_schemas(snapshot.fingerprints());

  restored.local_id = local.write_snapshot(0, std::move(delta), /*durable=*/true, schemas).id;
  return restored;
}

}  // namespace instadump::replication

// apply_replicated_snapshot (replica_delta.h): one replicated snapshot's
// changes onto a reader's cache.
#include "replication/replica_delta.h"

#include <string>
#include <vector>

#include "common/errors.h"
#include "replication/copy_snapshot.h"

namespace instadump::replication {
namespace {

std::string where(const replicated_copy& copy, std::uint64_t seq) {
  return "instadump reader of replicated store \"" + copy.store() + "\", snapshot " + std::to_string(seq);
}

}  // namespace

std::uint64_t apply_replicated_snapshot(replicated_copy& copy, storage::snapshot_store& cache, std::uint64_t seq,
                                        std::uint64_t base_local_id) {
  copy_snapshot snapshot(where(copy, seq));
  std::vector<std::string> removed;
  const bool there = copy.read_changes(
      seq, [&](std::string_view key, const copy_entry& e, std::span<const std::byte> bytes) {
        snapshot.add_value(key, e, bytes, "");
      },
      [&](std::string_view key) { removed.emplace_back(key); });
  if (!there) {
    throw replication_error(where(copy, seq) + ": the copy no longer holds it (its rows were pruned), so the "
                            "reader's cache cannot be brought forward snapshot by snapshot: set the reader up "
                            "again (setup rebuilds its cache from the newest snapshot)");
  }
  // Only the chunks new to the cache: a writer numbers chunks upwards.
  snapshot.read_chunks(copy, cache.next_chunk_id());
  storage::snapshot_delta delta = snapshot.delta();
  delta.remove = std::move(removed);
  std::vector<std::uint64_t> fingerprints = snapshot.fingerprints();
  // Schemas the cache lacks (a value that changed schema brings its own).
  std::erase_if(fingerprints, [&](std::uint64_t fp) { return cache.get_schema(fp).has_value(); });
  const std::vector<storage::schema_record> schemas = copy.read_schemas(fingerprints);
  try {
    // Not durable: the cache is rebuilt from PostgreSQL at every setup.
    return cache.write_snapshot(base_local_id, std::move(delta), /*durable=*/false, schemas).id;
  } catch (const save_failed& e) {
    throw save_failed(where(copy, seq) + ": writing it into the cache \"" + cache.directory().string() +
                      "\" failed: " + e.what() + ". If a chunk is missing, give the reader a keep_generations at "
                      "least the writer's");
  }
}

}  // namespace instadump::replication

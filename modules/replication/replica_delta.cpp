// apply_replicated_snapshot (replica_delta.h): one replicated snapshot's
// changes onto a reader's cache.
#include "replication/replica_delta.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/errors.h"
#include "storage/checksum.h"
#include "storage/chunk_format.h"

namespace instadump::replication {
namespace {

// Bytes read from the copy, kept in 8-byte-aligned memory (the store's
// values and chunks must be whole, aligned words).
std::vector<std::uint64_t> aligned_copy(std::span<const std::byte> bytes) {
  std::vector<std::uint64_t> words(bytes.size() / 8);
  if (!bytes.empty()) std::memcpy(words.data(), bytes.data(), words.size() * 8);
  return words;
}

struct changed_value {
  std::string key;
  copy_entry entry;
  std::vector<std::uint64_t> words;
};

std::string where(const replicated_copy& copy, std::uint64_t seq) {
  return "instadump reader of replicated store \"" + copy.store() + "\", snapshot " + std::to_string(seq);
}

}  // namespace

std::uint64_t apply_replicated_snapshot(replicated_copy& copy, storage::snapshot_store& cache, std::uint64_t seq,
                                        std::uint64_t base_local_id) {
  std::vector<changed_value> puts;
  std::vector<std::string> removed;
  const bool there = copy.read_changes(
      seq,
      [&](std::string_view key, const copy_entry& e, std::span<const std::byte> bytes) {
        if (bytes.size() % 8 != 0 || storage::checksum_of(bytes) != e.checksum) {
          throw corrupt_data(where(copy, seq) + ": value \"" + std::string(key) + "\" does not have the checksum "
                             "(or the whole 8-byte words) recorded with it: the copy is damaged");
        }
        puts.push_back({std::string(key), e, aligned_copy(bytes)});
      },
      [&](std::string_view key) { removed.emplace_back(key); });
  if (!there) {
    throw replication_error(where(copy, seq) + ": the copy no longer holds it (its rows were pruned), so the "
                            "reader's cache cannot be brought forward snapshot by snapshot: set the reader up "
                            "again (setup rebuilds its cache from the newest snapshot)");
  }

  // The chunks new to the cache, level by level from the values' roots.
  const std::uint64_t first_new = cache.next_chunk_id();
  std::vector<std::uint64_t> chunk_ids;
  std::vector<std::vector<std::uint64_t>> chunk_words;
  std::unordered_set<std::uint64_t> seen;
  std::vector<std::uint64_t> frontier;
  auto reach = [&](std::uint64_t id, std::vector<std::uint64_t>& into) {
    if (id >= first_new && seen.insert(id).second) into.push_back(id);
  };
  for (const auto& p : puts) {
    for (std::uint64_t id : p.entry.chunk_roots) reach(id, frontier);
  }
  while (!frontier.empty()) {
    std::vector<std::uint64_t> next;
    std::size_t found = 0;
    copy.read_chunks(frontier, [&](std::uint64_t id, std::span<const std::byte> bytes) {
      storage::chunk_header h;
      if (bytes.size() % 8 != 0 || !storage::read_chunk_header(bytes, h) || h.id != id) {
        throw corrupt_data(where(copy, seq) + ": chunk " + std::to_string(id) + " is damaged (its header does not "
                           "read)");
      }
      ++found;
      chunk_ids.push_back(id);
      chunk_words.push_back(aligned_copy(bytes));
      for (std::uint64_t c : h.children) reach(c, next);
    });
    if (found != frontier.size()) {
      throw corrupt_data(where(copy, seq) + ": " + std::to_string(frontier.size() - found) + " of the chunks its "
                         "values reach are missing from the copy");
    }
    frontier = std::move(next);
  }

  storage::snapshot_delta delta;
  std::vector<std::uint64_t> fingerprints;
  for (const auto& p : puts) {
    storage::new_value nv;
    nv.key = p.key;
    nv.schema = p.entry.schema;
    nv.size_bytes = p.words.size() * 8;
    nv.bytes = std::as_bytes(std::span(p.words));
    nv.framed = p.entry.framed;
    nv.chunk_roots = p.entry.chunk_roots;
    delta.put.emplace_back(std::move(nv));
    fingerprints.push_back(p.entry.schema.fingerprint);
  }
  delta.remove = std::move(removed);
  for (std::size_t i = 0; i < chunk_ids.size(); ++i) {
    delta.chunks.push_back({chunk_ids[i], std::as_bytes(std::span(chunk_words[i]))});
  }
  // Schemas the cache lacks (a value that changed schema brings its own).
  std::sort(fingerprints.begin(), fingerprints.end());
  fingerprints.erase(std::unique(fingerprints.begin(), fingerprints.end()), fingerprints.end());
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

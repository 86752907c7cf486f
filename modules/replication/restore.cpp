// restore_from_copy (restore.h): a replicated snapshot into a local store.
#include "replication/restore.h"

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

// A value read from the copy, its bytes in 8-byte-aligned memory.
struct restored_value {
  std::string key;
  copy_entry entry;
  std::vector<std::uint64_t> words;
};

}  // namespace

std::uint64_t restore_from_copy(replicated_copy& copy, storage::snapshot_store& local,
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
    return 0;
  }
  const std::uint64_t at = seq.value_or(head->seq);
  if (at == 0 || at > head->seq) {
    throw replication_error("instadump replication of store \"" + copy.store() + "\": no replicated snapshot " +
                            std::to_string(at) + " (the newest is " + std::to_string(head->seq) + ")");
  }

  std::vector<restored_value> values;
  copy.read_values(at, [&](std::string_view key, const copy_entry& e, std::span<const std::byte> bytes) {
    if (bytes.size() % 8 != 0) {
      throw corrupt_data("instadump replication of store \"" + copy.store() + "\": replicated value \"" +
                         std::string(key) + "\" of snapshot " + std::to_string(at) + " has " +
                         std::to_string(bytes.size()) + " bytes, not whole 8-byte words");
    }
    if (storage::checksum_of(bytes) != e.checksum) {
      throw corrupt_data("instadump replication of store \"" + copy.store() + "\": replicated value \"" +
                         std::string(key) + "\" of snapshot " + std::to_string(at) + " does not have the "
                         "checksum recorded with it: the copy is damaged; restore an older snapshot");
    }
    auto& v = values.emplace_back();
    v.key = key;
    v.entry = e;
    v.words.resize(bytes.size() / 8);
    if (!bytes.empty()) std::memcpy(v.words.data(), bytes.data(), bytes.size());
  });

  // The chunks the values reach, level by level from their roots.
  std::vector<std::vector<std::uint64_t>> chunk_words;
  std::vector<std::uint64_t> chunk_ids;
  std::unordered_set<std::uint64_t> seen;
  std::vector<std::uint64_t> frontier;
  for (const auto& v : values) {
    for (std::uint64_t id : v.entry.chunk_roots) {
      if (seen.insert(id).second) frontier.push_back(id);
    }
  }
  while (!frontier.empty()) {
    std::vector<std::uint64_t> next;
    std::unordered_set<std::uint64_t> found;
    copy.read_chunks(frontier, [&](std::uint64_t id, std::span<const std::byte> bytes) {
      storage::chunk_header h;
      if (bytes.size() % 8 != 0 || !storage::read_chunk_header(bytes, h) || h.id != id) {
        throw corrupt_data("instadump replication of store \"" + copy.store() + "\": replicated chunk " +
                           std::to_string(id) + " is damaged (its header does not read)");
      }
      found.insert(id);
      chunk_ids.push_back(id);
      auto& w = chunk_words.emplace_back(bytes.size() / 8);
      std::memcpy(w.data(), bytes.data(), bytes.size());
      for (std::uint64_t c : h.children) {
        if (seen.insert(c).second) next.push_back(c);
      }
    });
    for (std::uint64_t id : frontier) {
      if (!found.count(id)) {
        throw corrupt_data("instadump replication of store \"" + copy.store() + "\": chunk " + std::to_string(id) +
                           ", reached from replicated snapshot " + std::to_string(at) + ", is missing");
      }
    }
    frontier = std::move(next);
  }

  storage::snapshot_delta delta;
  std::vector<std::uint64_t> fingerprints;
  for (const auto& v : values) {
    storage::new_value nv;
    nv.key = v.key;
    nv.schema = v.entry.schema;
    nv.size_bytes = v.words.size() * 8;
    nv.bytes = std::as_bytes(std::span(v.words));
    nv.framed = v.entry.framed;
    nv.chunk_roots = v.entry.chunk_roots;
    delta.put.emplace_back(std::move(nv));
    fingerprints.push_back(v.entry.schema.fingerprint);
  }
  for (std::size_t i = 0; i < chunk_ids.size(); ++i) {
    delta.chunks.push_back({chunk_ids[i], std::as_bytes(std::span(chunk_words[i]))});
  }
  // The copy may hold chunks with larger ids than these (of newer
  // snapshots, or ones no snapshot reaches any more): the store goes on past
  // all of them, so a chunk it writes never takes an id the copy has.
  delta.next_chunk_id_floor = copy.next_chunk_id();
  std::sort(fingerprints.begin(), fingerprints.end());
  fingerprints.erase(std::unique(fingerprints.begin(), fingerprints.end()), fingerprints.end());
  const std::vector<storage::schema_record> schemas = copy.read_schemas(fingerprints);

  return local.write_snapshot(0, std::move(delta), /*durable=*/true, schemas).id;
}

}  // namespace instadump::replication

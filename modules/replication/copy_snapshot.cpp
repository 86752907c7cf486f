// copy_snapshot (copy_snapshot.h): values and chunks from the replicated
// copy, as a delta for a local store.
#include "replication/copy_snapshot.h"

#include <algorithm>
#include <cstring>
#include <unordered_set>

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

}  // namespace

void copy_snapshot::add_value(std::string_view key, const copy_entry& entry, std::span<const std::byte> bytes,
                              std::string_view advice) {
  if (bytes.size() % 8 != 0 || storage::checksum_of(bytes) != entry.checksum) {
    throw corrupt_data(where_ + ": value \"" + std::string(key) + "\" does not have the checksum (or the whole " +
                       "8-byte words) recorded with it: the copy is damaged" +
                       (advice.empty() ? "" : "; " + std::string(advice)));
  }
  values_.push_back({std::string(key), entry, aligned_copy(bytes)});
}

void copy_snapshot::read_chunks(replicated_copy& copy, std::uint64_t first_new) {
  std::unordered_set<std::uint64_t> seen;
  std::vector<std::uint64_t> frontier;
  auto reach = [&](std::uint64_t id, std::vector<std::uint64_t>& into) {
    if (id >= first_new && seen.insert(id).second) into.push_back(id);
  };
  for (const value& v : values_) {
    for (std::uint64_t id : v.entry.chunk_roots) reach(id, frontier);
  }
  while (!frontier.empty()) {
    std::vector<std::uint64_t> next;
    std::unordered_set<std::uint64_t> found;
    copy.read_chunks(frontier, [&](std::uint64_t id, std::span<const std::byte> bytes) {
      storage::chunk_header h;
      if (bytes.size() % 8 != 0 || !storage::read_chunk_header(bytes, h) || h.id != id) {
        throw corrupt_data(where_ + ": replicated chunk " + std::to_string(id) +
                           " is damaged (its header does not read)");
      }
      found.insert(id);
      chunk_ids_.push_back(id);
      chunk_words_.push_back(aligned_copy(bytes));
      for (std::uint64_t c : h.children) reach(c, next);
    });
    for (std::uint64_t id : frontier) {
      if (!found.count(id)) {
        throw corrupt_data(where_ + ": chunk " + std::to_string(id) + ", reached from its values, is missing " +
                           "from the copy");
      }
    }
    frontier = std::move(next);
  }
}

storage::snapshot_delta copy_snapshot::delta() const {
  storage::snapshot_delta delta;
  for (const value& v : values_) {
    storage::new_value nv;
    nv.key = v.key;
    nv.schema = v.entry.schema;
    nv.size_bytes = v.words.size() * 8;
    nv.bytes = std::as_bytes(std::span(v.words));
    nv.framed = v.entry.framed;
    nv.chunk_roots = v.entry.chunk_roots;
    delta.put.emplace_back(std::move(nv));
  }
  for (std::size_t i = 0; i < chunk_ids_.size(); ++i) {
    delta.chunks.push_back({chunk_ids_[i], std::as_bytes(std::span(chunk_words_[i]))});
  }
  return delta;
}

std::vector<std::uint64_t> copy_snapshot::fingerprints() const {
  std::vector<std::uint64_t> result;
  for (const value& v : values_) result.push_back(v.entry.schema.fingerprint);
  std::sort(result.begin(), result.end());
  result.erase(std::unique(result.begin(), result.end()), result.end());
  return result;
}

}  // namespace instadump::replication

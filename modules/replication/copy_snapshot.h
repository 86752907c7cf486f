// What a local store is given from the replicated copy: values read from
// it (checked against their recorded checksums) and the chunks they reach,
// held in 8-byte-aligned memory, written as one snapshot_delta. Shared by a
// restore (a whole snapshot into an empty store) and a reader's catch-up
// (one snapshot's changes onto its cache).
//
// Internal to instadump_storage.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "replication/replicated_copy.h"
#include "storage/snapshot_store.h"

namespace instadump::replication {

class copy_snapshot {
 public:
  // `where` starts every error message (names the store and snapshot).
  explicit copy_snapshot(std::string where) : where_(std::move(where)) {}

  // Keeps value `key` as read from the copy. Throws corrupt_data when its
  // bytes are not whole 8-byte words or lack the checksum the copy recorded
  // for them; `advice` (may be empty) ends that message.
  void add_value(std::string_view key, const copy_entry& entry, std::span<const std::byte> bytes,
                 std::string_view advice);

  // Reads from `copy` the chunks the kept values reach, level by level from
  // their roots, skipping ids below `first_new` (ones the store has).
  // Throws corrupt_data naming a damaged or missing chunk.
  void read_chunks(replicated_copy& copy, std::uint64_t first_new);

  // The delta that writes the kept values and chunks (its spans point into
  // this object), and the values' schema fingerprints, sorted and unique.
  storage::snapshot_delta delta() const;
  std::vector<std::uint64_t> fingerprints() const;

  const std::string& where() const noexcept { return where_; }

 private:
  struct value {
    std::string key;
    copy_entry entry;
    std::vector<std::uint64_t> words;
  };
  std::string where_;
  std::vector<value> values_;
  std::vector<std::uint64_t> chunk_ids_;
  std::vector<std::vector<std::uint64_t>> chunk_words_;
};

}  // namespace instadump::replication

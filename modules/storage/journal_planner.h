// Planning a journaled save: the snapshot exactly as the writer will write
// it once the journal's snapshots go into data.mdb -- its id, the key ids of
// new names, one blob for the new values side by side (layout_rules.h) and
// their offsets, its new chunks, checked as the writer will check them
// (chunk_forecast.h) -- worked out from a plan of the next snapshot kept
// beside the writer's state, without touching data.mdb.
//
// The plan follows each journaled snapshot (advance) and, when it cannot
// (after a direct write, at the first journaled save, after a failure), is
// taken again from the writer's state (reset), which needs data.mdb to hold
// every snapshot saved so far.
//
// Internal to instadump_storage. Not thread-safe: the journal guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "storage/chunk_forecast.h"
#include "storage/journal_codec.h"
#include "storage/name_map.h"
#include "storage/snapshot_types.h"
#include "storage/writer_state.h"

namespace instadump::storage {

// One journaled save, planned: the entry (every field but the checksums and
// the bytes of the blob and the chunks), the sizes of its parts, and what it
// does to the chunks (chunks.admitted.bytes: the new chunks, in the order
// of the entry).
struct journal_plan {
  journal_entry entry;
  std::size_t blob_bytes = 0;
  std::size_t name_bytes = 0;
  std::size_t schema_bytes = 0;
  std::size_t chunk_roots = 0;
  chunk_forecast::step chunks;
};

class journal_planner {
 public:
  // A journaled snapshot holds at most `max_entry_bytes` of values, chunks
  // and schemas (a quarter of the journal). The store keeps `keep`
  // snapshots, in `dir` (for messages).
  journal_planner(std::size_t max_entry_bytes, unsigned keep, std::filesystem::path dir)
      : max_entry_bytes_(max_entry_bytes), keep_(keep), dir_(std::move(dir)) {}

  // Whether there is a plan to save on; when not, reset() first.
  bool planned() const noexcept { return planned_; }
  // Forgets the plan (after a direct write: data.mdb moved on without it).
  void invalidate() noexcept { planned_ = false; }

  // Takes the plan from the writer's state `w` of data.mdb, whose meta record
  // says `store_created` and whose next blob id is `next_blob`. Leaves it
  // not planned when the writer cannot predictably write the next snapshot
  // (its records are damaged, the store is of an older format, or key ids
  // reach kIndexedKeyIds): saves then go to data.mdb directly.
  void reset(const writer_state& w, std::int64_t store_created, std::uint64_t next_blob);
  // Whether reset() can plan from `w` at all; reading `store_created` and
  // `next_blob` for it is pointless otherwise.
  static bool can_follow(const writer_state& w) noexcept;

  // The plan of the snapshot `base_id` changed by `delta`, or nullopt when it
  // cannot be journaled: it does not build on the newest snapshot, sets a
  // chunk-id floor (snapshot_delta::next_chunk_id_floor), a value
  // is kept, filled in place or not packed, the entry would take more than
  // max_entry_bytes, or new key ids would reach kIndexedKeyIds.
  // REQUIRES: planned(). Throws save_failed when a key repeats or is both
  // put and removed, or the chunks fail the writer's checks
  // (chunk_admission.h).
  std::optional<journal_plan> plan(std::uint64_t base_id, const snapshot_delta& delta,
                                   std::span<const schema_record> schemas) const;

  // Makes the plan follow `done`, the snapshot just journaled (its entry and
  // what it does to the chunks). Out of memory, it is left not planned.
  void advance(const journal_entry& done, chunk_forecast::step chunks) noexcept;

  // The total size of the values of the newest snapshot (journaled or not).
  std::uint64_t total_bytes() const noexcept { return total_bytes_; }
  // The id the next snapshot's new chunks start at. REQUIRES: planned().
  std::uint64_t next_chunk_id() const noexcept { return chunks_.next_chunk_id(); }
  // The chunks as they will be once the journaled snapshots are in data.mdb.
  const chunk_forecast& chunks() const noexcept { return chunks_; }

 private:
  const std::size_t max_entry_bytes_;
  const unsigned keep_;
  const std::filesystem::path dir_;
  chunk_forecast chunks_;
  bool planned_ = false;
  std::int64_t store_created_ = 0;  // StoreMeta.createdUnixNanos
  std::uint64_t newest_ = 0;
  std::int64_t newest_created_ = 0;
  std::uint64_t next_blob_ = 1;
  std::uint64_t next_key_id_ = 1;
  std::vector<std::string> names_;  // key id -> name ("" for unused ids)
  name_map<std::uint64_t> key_ids_;
  std::vector<std::uint64_t> size_plus_one_;  // key id -> the newest snapshot's value size + 1 (0: none)
  std::uint64_t total_bytes_ = 0;            // of the newest snapshot
};

}  // namespace instadump::storage

// The chunks as they will be once the journaled snapshots are in data.mdb,
// kept by the journal's planner (journal_planner.h): a journaled save's
// chunks are checked against this forecast when it is planned, exactly as
// the writer will check them when it writes the snapshot into data.mdb, so
// the writer never meets a chunk id that is not there -- also not one that
// an earlier journaled snapshot's pruning reclaims before it.
//
// The forecast follows each journaled snapshot as the writer will write it:
// the chunks it adds, the value intervals it starts and ends (those with
// chunk roots: chunk_ledger.h) and the chunks that lets go. It is taken from
// the writer's state when the plan is (journal_planner::reset).
//
// Internal to instadump_storage. Not thread-safe: the journal guards it.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "storage/chunk_admission.h"
#include "storage/chunk_ledger.h"
#include "storage/journal_codec.h"
#include "storage/record_codec.h"
#include "storage/writer_state.h"

namespace instadump::storage {

class chunk_forecast {
 public:
  // What one journaled snapshot does to the chunks.
  struct step {
    admitted_chunks admitted;  // its new chunks, checked (their links are in `ledger`)
    ledger_step ledger;
    std::vector<std::uint64_t> superseded_roots;  // of the values it replaces or removes
    std::uint64_t oldest = 0;                     // the oldest kept snapshot after it
  };

  // Takes the forecast from the writer's state `w` of data.mdb (intact), for
  // a store that keeps `keep` snapshots in `dir`.
  void reset(const writer_state& w, unsigned keep, const std::filesystem::path& dir);

  // The id the next journaled snapshot's new chunks start at.
  std::uint64_t next_chunk_id() const noexcept { return next_chunk_id_; }

  // The step of the next journaled snapshot, whose new values are `values`
  // (with their key ids and chunk roots; names[i] names values[i] in
  // errors), which removes the keys `removed` and adds `chunks` (sealed
  // in this process: snapshot_delta::chunks_sealed_here). Throws
  // save_failed as the writer would (admit_chunks).
  step plan(const std::vector<journal_value>& values, std::span<const std::string_view> names,
            const std::vector<std::uint64_t>& removed, std::span<const new_chunk> chunks,
            bool sealed_here = false) const;
  // Makes the forecast follow that snapshot (values and removed as given to
  // plan), once it is journaled.
  void advance(const std::vector<journal_value>& values, const std::vector<std::uint64_t>& removed, step done);

  // The chunks as forecast (for tests).
  const chunk_ledger& ledger() const noexcept { return ledger_; }

 private:
  std::filesystem::path dir_;
  unsigned keep_ = 1;
  chunk_ledger ledger_;
  std::uint64_t next_chunk_id_ = 1;
  std::uint64_t newest_ = 0;
  std::uint64_t oldest_ = 0;
  // The chunk roots of the newest snapshot's values that have any, by key id.
  std::unordered_map<std::uint64_t, chunk_root_list> current_;
  // The chunk roots of the values each record after the oldest kept
  // snapshot superseded (their intervals are still live), oldest first.
  std::deque<std::pair<std::uint64_t, std::vector<std::uint64_t>>> pending_;
};

}  // namespace instadump::storage

// The chain of snapshot records (format 2) in memory: replaying records into
// the values of a snapshot, working out what a new snapshot changed, and
// knowing which stored values some kept snapshot still has.
//
// No LMDB here: snapshot_store reads and writes the records; this file is the
// bookkeeping between them, written so it can be tested on its own.
//
// Terms. A snapshot's *view* is its values, by key id. Record N says how the
// view of snapshot N differs from view N-1 (or, when full, lists view N).
// A stored value is *live* while some kept snapshot (ids oldest..newest) has
// it in its view; its bytes can be deleted once it is not. Record M lists
// the values view M-1 had and view M has not ("superseded"): once the oldest
// kept snapshot is M or newer, nothing kept has them any more.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "storage/record_codec.h"

namespace instadump::storage {

// A snapshot's values, sorted by key id.
using snapshot_view = std::vector<stored_value>;

// Turns `view` (the view of snapshot r.id - 1, ignored when r.full) into the
// view of snapshot r.id. Throws corrupt_data naming `where` when the record
// does not fit the view (it removes a key the view does not have).
void apply_record(snapshot_view& view, const snapshot_record& r, const std::string& where);

// What changed from `prev` to `next` (both sorted by key id): values of
// `next` that `prev` does not have in the same place with the same schema,
// key ids of `prev` missing from `next`, and the places of `prev`'s values
// that `next` no longer has.
struct view_change {
  std::vector<stored_value> changed;
  std::vector<std::uint64_t> removed;
  std::vector<value_ref> superseded;
};
view_change diff_views(const snapshot_view& prev, const snapshot_view& next);

// Counts, for every stored value, how many intervals of snapshots (from the
// snapshot that introduced it to the one that superseded it) still reach a
// kept snapshot, and per blob how many such values it holds.
class live_values {
 public:
  // One more interval has value `v`.
  void add(const stored_value& v);
  // One interval of the value at `r` ended before the oldest kept snapshot.
  // Returns true when its blob holds no live value any more. Unknown places
  // are ignored (returns false).
  bool release(const value_ref& r);
  // The live value stored at (blob_id, offset), or null.
  const stored_value* find(std::uint64_t blob_id, std::uint64_t offset) const;
  // Intervals that still have the value at (blob_id, offset); 0 if none.
  std::uint64_t intervals(std::uint64_t blob_id, std::uint64_t offset) const;
  // Live values in blob `blob_id`.
  std::uint64_t in_blob(std::uint64_t blob_id) const;
  std::size_t size() const { return values_.size(); }

 private:
  struct place_hash {
    std::size_t operator()(const std::pair<std::uint64_t, std::uint64_t>& p) const noexcept {
      return std::hash<std::uint64_t>()(p.first * 0x9E3779B97F4A7C15ull ^ p.second);
    }
  };
  struct counted {
    stored_value value;
    std::uint64_t intervals = 0;
  };
  std::unordered_map<std::pair<std::uint64_t, std::uint64_t>, counted, place_hash> values_;
  std::unordered_map<std::uint64_t, std::uint64_t> per_blob_;
};

// What the writer knows about the records on disk.
struct chain_state {
  std::uint64_t oldest = 0;      // oldest kept snapshot; 0 when there is none
  std::uint64_t newest = 0;      // newest snapshot; 0 when there is none
  std::uint64_t last_full = 0;   // newest full record (<= newest)
  // Entries in the records after last_full: what a read replays beyond it.
  std::uint64_t entries_since_full = 0;
  // Ids of the records on disk (kept snapshots and the records before them a
  // replay of the oldest needs), oldest first, with their `full` flags.
  std::vector<std::pair<std::uint64_t, bool>> records;
  snapshot_view current;         // the view of `newest`
  live_values live;
  // Superseded lists of records oldest+1..newest (not yet reclaimed), by id.
  std::vector<std::pair<std::uint64_t, std::vector<value_ref>>> pending;
};

// Builds the state from `records`, every record on disk in id order (the
// first one full), and the oldest kept snapshot. Throws corrupt_data when the
// records do not form a chain.
chain_state rebuild_chain(const std::vector<snapshot_record>& records, std::uint64_t oldest);

// Whether the record of the next snapshot should be full: when replaying the
// records since the last full one plus this change would read more entries
// than a full record has, or there is no record yet.
bool next_record_full(const chain_state& state, std::size_t changed, std::size_t next_values);

// The effect of writing snapshot state.newest + 1, which changes `change`
// from the current view, and then keeping `keep` snapshots: the new oldest
// kept snapshot, the records no replay needs any more and the blobs no kept
// snapshot has values in. Does not change `state`.
struct chain_step {
  std::uint64_t id = 0;                     // the new snapshot
  std::uint64_t oldest = 0;                 // the oldest kept snapshot afterwards
  bool full = false;                        // the new record is full
  std::vector<std::uint64_t> drop_records;  // ids, ascending
  std::vector<std::uint64_t> drop_blobs;    // ids, ascending
};
chain_step plan_step(const chain_state& state, const view_change& change, bool full, unsigned keep);

// Applies a step that was written to disk: `next` is the new snapshot's view,
// `record_entries` the number of entries its record holds.
void apply_step(chain_state& state, const view_change& change, snapshot_view next, std::size_t record_entries,
                const chain_step& step);

}  // namespace instadump::storage

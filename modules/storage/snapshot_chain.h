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
// it in its view; its bytes can be deleted once it is not. The values view
// M-1 had and view M has not are "superseded" by M: once the oldest kept
// snapshot is M or newer, nothing kept has them any more. (Records do not
// list them: replaying the chain tells.)
#pragma once

#include <cstdint>
#include <functional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "storage/record_codec.h"

namespace instadump::storage {

// A snapshot's values, sorted by key id.
using snapshot_view = std::vector<stored_value>;

// The writer's view of the newest snapshot: one sorted vector, searched by
// binary search. Most saves replace values of keys the view has, which is
// done in place (O(log n) per changed value); a change that adds or removes
// keys is merged in (O(n), once per save).
class view_index {
 public:
  using const_iterator = snapshot_view::const_iterator;

  // The value of `key_id`, or nullptr.
  const stored_value* find(std::uint64_t key_id) const;
  // The first value at or after `from` whose key id is not less than
  // `key_id` (end() if none). REQUIRES: the values before `from` have smaller
  // key ids. It gallops from `from`, so a walk along sorted keys costs
  // O(log gap) per key rather than O(log n) each: a save that changes every
  // value reads the view once, in order, instead of searching it per value.
  const_iterator seek(const_iterator from, std::uint64_t key_id) const;
  const_iterator begin() const { return values_.begin(); }
  const_iterator end() const { return values_.end(); }
  std::size_t size() const { return values_.size(); }
  const snapshot_view& values() const { return values_; }
  // REQUIRES: `sorted` is sorted by key id, unique.
  void assign(snapshot_view sorted) { values_ = std::move(sorted); }
  // The view with `changed` stored (replacing values of the same keys) and
  // the keys `removed` dropped. REQUIRES: both sorted by key id, unique.
  snapshot_view with(const std::vector<stored_value>& changed, const std::vector<std::uint64_t>& removed) const;
  // Makes this view what with() returns.
  void apply(const std::vector<stored_value>& changed, const std::vector<std::uint64_t>& removed);

 private:
  snapshot_view values_;
};

// Turns `view` (the view of snapshot r.id - 1, ignored when r.full) into the
// view of snapshot r.id. Throws corrupt_data naming where() when the record
// does not fit the view (it removes a key the view does not have). (A
// function: readers apply thousands of records, and name none of them
// unless one is damaged.)
void apply_record(snapshot_view& view, const snapshot_record& r, const std::function<std::string()>& where);

// What changed from `prev` to `next` (both sorted by key id): values of
// `next` that `prev` does not have in the same place with the same schema,
// key ids of `prev` missing from `next`, and the values of `prev` (those
// with bytes) that `next` no longer has.
struct view_change {
  std::vector<stored_value> changed;
  std::vector<std::uint64_t> removed;
  std::vector<stored_value> superseded;
  std::size_t added = 0;  // values of `changed` whose key `prev` lacks
};
view_change diff_views(const snapshot_view& prev, const snapshot_view& next);

// What changed from `current` when `put` (sorted by key id, unique) are
// stored and the keys `removed` (sorted, unique; none of them in `put`) are
// dropped: values of `put` that `current` does not already have as they are,
// the removed keys `current` has, and the values replaced or removed. One galloping walk over `current` for each of the two lists.
view_change change_of(const view_index& current, const std::vector<stored_value>& put,
                      const std::vector<std::uint64_t>& removed);

// Whether two stored values are the same value in the same place.
bool same_value(const stored_value& a, const stored_value& b);

// Counts, per blob, the stored values in it that some kept snapshot still
// has: each value counts once per interval of snapshots that has it (from
// the snapshot that introduced it to the one that superseded it), until the
// interval ends before the oldest kept snapshot. A blob whose count drops to
// zero holds nothing anyone can read any more.
class live_values {
 public:
  // One more interval has the value at `r`.
  void add(const value_ref& r);
  // An interval of the value at `r` ended before the oldest kept snapshot.
  // Returns true when its blob holds no live value any more.
  bool release(const value_ref& r);
  // Live values in blob `blob_id`.
  std::uint64_t in_blob(std::uint64_t blob_id) const;

 private:
  std::unordered_map<std::uint64_t, std::uint64_t> per_blob_;
};

// What the writer knows about the records on disk.
struct chain_state {
  std::uint64_t oldest = 0;      // oldest kept snapshot; 0 when there is none
  std::uint64_t newest = 0;      // newest snapshot; 0 when there is none
  // Entries in the records after the newest full one: what a read of the
  // newest snapshot replays beyond it.
  std::uint64_t entries_since_full = 0;
  // Ids of the records on disk (kept snapshots and the records before them a
  // replay of the oldest needs), oldest first, with their `full` flags.
  std::vector<std::pair<std::uint64_t, bool>> records;
  view_index current;            // the view of `newest`
  std::uint64_t total_bytes = 0; // of `current`
  live_values live;
  // Superseded lists of records oldest+1..newest (not yet reclaimed), by id.
  // With `current`, they are the live value intervals: each of their values
  // is one (chunk_ledger.h counts the chunk roots of these).
  std::vector<std::pair<std::uint64_t, std::vector<stored_value>>> pending;
};

// Builds the state from `records`, every record on disk in id order (the
// first one full), and the oldest kept snapshot. Throws corrupt_data when the
// records do not form a chain.
chain_state rebuild_chain(const std::vector<snapshot_record>& records, std::uint64_t oldest);

// Whether the record of the next snapshot should be full: when replaying the
// records since the last full one plus this change would read more entries
// than a full record has, or there is no record yet.
bool next_record_full(const chain_state& state, std::size_t changed, std::size_t next_values);

// The oldest snapshot kept once snapshot `newest` is written, when `oldest`
// was the oldest kept before and `keep` snapshots are kept.
std::uint64_t first_kept(std::uint64_t oldest, std::uint64_t newest, unsigned keep);

// The effect of writing snapshot state.newest + 1, which changes `change`
// from the current view, and then keeping `keep` snapshots: the new oldest
// kept snapshot, the records no replay needs any more, the blobs no kept
// snapshot has values in, and the chunk roots of the value intervals that
// end (the values superseded up to the new oldest snapshot). Does not change
// `state`.
struct chain_step {
  std::uint64_t id = 0;                     // the new snapshot
  std::uint64_t oldest = 0;                 // the oldest kept snapshot afterwards
  bool full = false;                        // the new record is full
  std::vector<std::uint64_t> drop_records;  // ids, ascending
  std::vector<std::uint64_t> drop_blobs;    // ids, ascending
  std::vector<std::uint64_t> ended_roots;   // each root once per value listing it
};
chain_step plan_step(const chain_state& state, const view_change& change, bool full, unsigned keep);

// Applies a step that was written to disk: `change` as given to plan_step
// becomes part of the current view; `record_entries` is the number of
// entries the new record holds.
void apply_step(chain_state& state, const view_change& change, std::size_t record_entries, const chain_step& step);

}  // namespace instadump::storage

// The store's chunks and who refers to them: the reference counts that tell
// when a chunk can be reclaimed, kept in memory by the writer (rebuilt when
// it loads its state) and, as a forecast, by the journal's planner.
//
// A stored chunk c is referred to by
//   roots(c):   the live value intervals (snapshot_chain.h: a stored value,
//               from the snapshot that introduced it to the one that
//               superseded it, while some kept snapshot lies in it) whose
//               value lists c among its chunk roots, and
//   parents(c): the stored chunks that list c as a child.
// A chunk whose count drops to 0 is deleted in the same transaction and its
// children lose a parent, which may delete them in turn (a cascade). Chunk
// ids grow with every write and a chunk's children have smaller ids than it
// (checked on write), so the references form no cycle.
//
// No LMDB here: the writer reads the chunks' headers and stores what a step
// decides; this file is the bookkeeping, testable on its own.
//
// Internal to instadump_storage. Not thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

namespace instadump::storage {

// A chunk as the ledger knows it: its id and the chunks it lists as children.
struct chunk_links {
  std::uint64_t id = 0;
  std::vector<std::uint64_t> children;

  friend bool operator==(const chunk_links&, const chunk_links&) = default;
};

// The chunk of `created` (ascending ids) with id `id`, or null. A save's
// new chunks have consecutive ids, which are looked up by their offset from
// the first; others by binary search.
const chunk_links* find_created(std::span<const chunk_links> created, std::uint64_t id) noexcept;

// What one write does to the ledger, worked out by chunk_ledger::plan()
// without changing it: the chunks it creates, how the counts change, and
// the chunks it deletes.
struct ledger_step {
  std::vector<chunk_links> created;                                 // ascending ids
  std::vector<std::uint64_t> created_parents;  // of each created chunk, in the same order (the
                                               // created chunks that list it: a first save's ~100,000
                                               // are counted here, not in a map)
  std::vector<std::pair<std::uint64_t, std::int64_t>> root_deltas;    // of known chunks
  std::vector<std::pair<std::uint64_t, std::int64_t>> parent_deltas;  // of stored chunks
  std::vector<std::uint64_t> dropped;                               // ascending ids
  bool reclaimed = false;  // orphans were considered (see plan)
};

class chunk_ledger {
 public:
  // Whether chunk `id` is stored.
  bool contains(std::uint64_t id) const { return chunks_.contains(id); }
  std::size_t size() const { return chunks_.size(); }
  // roots(id) + parents(id); 0 for a chunk not stored.
  std::uint64_t references(std::uint64_t id) const;
  // Stored chunks nothing refers to (left by a crash of an older build, or by
  // records that could not be read), ascending: the next step with
  // reclaiming deletes them unless it refers to them.
  const std::vector<std::uint64_t>& orphans() const { return orphans_; }

  // Loading: every stored chunk (add_stored), the roots of every live
  // value interval (add_roots), then finish_loading(), which counts the
  // parents and, when `find_orphans`, notes the chunks nothing refers to.
  // References to chunks that are not stored are ignored.
  void add_stored(chunk_links chunk);
  void add_roots(std::span<const std::uint64_t> roots);
  void finish_loading(bool find_orphans);

  // The step of a write that creates `created` (ascending ids, none stored;
  // their children are stored or created, with smaller ids), starts value
  // intervals whose values list the roots `started` and ends intervals whose
  // values list `ended` (each id once per listing). With `reclaim`, a chunk
  // whose count ends at 0 -- one that lost references here, or an orphan --
  // is dropped, and its children lose it as a parent (and so on). Without
  // (the writer's records cannot be trusted), nothing is dropped.
  ledger_step plan(std::vector<chunk_links> created, std::span<const std::uint64_t> started,
                   std::span<const std::uint64_t> ended, bool reclaim) const;
  // Makes the ledger what `step` (from plan() on this ledger) says.
  void apply(ledger_step step);

 private:
  struct entry {
    std::uint64_t roots = 0;
    std::uint64_t parents = 0;
    std::vector<std::uint64_t> children;
  };
  std::unordered_map<std::uint64_t, entry> chunks_;
  std::vector<std::uint64_t> orphans_;
};

}  // namespace instadump::storage

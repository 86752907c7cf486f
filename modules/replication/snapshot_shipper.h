// Ships local snapshots to the replicated copy, each as what the copy
// lacks: the values that differ from the copy's newest snapshot (with
// their bytes), the keys it has that the local snapshot does not, the
// chunks and schemas it does not hold yet. Takes what changed from the
// snapshots the saves handed over (saved_snapshot.h) where they have it,
// and reads the local store for the rest, so the same code serves a sync
// save (right after its local write) and the async sender catching up; a
// sender that fell behind pruning ships the newest kept snapshot, whole
// where needed.
//
// Not thread-safe: one thread at a time (the saving thread in sync mode,
// the sender in async mode).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_set>

#include "replication/replicated_copy.h"
#include "replication/restore.h"
#include "replication/saved_snapshot.h"
#include "storage/snapshot_store.h"

namespace instadump::replication {

class snapshot_shipper {
 public:
  explicit snapshot_shipper(storage::snapshot_store& local) : local_(local) {}

  // Learns what `copy` holds and which local snapshot it has, after a
  // (re)connect: the copy's newest snapshot was replicated by this writer
  // (same epoch) -- the one it names; or it equals a kept local snapshot
  // (same local id and creation time, or the same values: a store restored
  // from it) -- that one; or the copy is older than every kept local
  // snapshot (a writer restarted after its sender fell behind) -- none, so
  // the kept ones are shipped. Otherwise the two have diverged (the copy
  // moved on under another writer while this store was away): throws
  // replication_error, and nothing is shipped. Also throws it when the
  // local store would hand out chunk ids the copy holds already (it was
  // restored by a build that did not move its ids past the copy's): a new
  // chunk under such an id would count as shipped, and a later restore
  // would assemble the copy's old chunk instead.
  //
  // `read_just_now`: the copy's entries for one of its snapshots, read by the
  // caller under the lease it still holds (a restore). When that snapshot is
  // still the newest, they are moved from it, not read again.
  void attach(replicated_copy& copy, restored_snapshot* read_just_now = nullptr);

  // Ships, in order, the kept local snapshots after the last one shipped,
  // up to `upto`, taking each from `saved` (sorted by id) when it is there.
  // Returns how many. A snapshot pruned meanwhile is skipped. When `saved`
  // holds every snapshot after the last one shipped up to `upto`, the store
  // is not read at all: those it had pruned when `upto` was written go with
  // the first one it kept. Throws what replicated_copy::write throws; what
  // was shipped before stays shipped (last_shipped()). `before_commit` is
  // handed to the write of the snapshot that reaches `upto`
  // (replicated_copy::write), if it gets that far.
  std::size_t ship_until(replicated_copy& copy, std::uint64_t upto, std::span<const saved_snapshot> saved = {},
                         const std::function<void()>& before_commit = {});

  // The newest local snapshot the copy has, its seq there, and when it was
  // saved locally (0s: none).
  std::uint64_t last_shipped() const { return last_local_; }
  std::uint64_t last_seq() const { return seq_; }
  std::int64_t last_created_unix_nanos() const { return last_created_; }

 private:
  // The part of `saved` that continues the copy's newest snapshot up to
  // `upto`: snapshots last_shipped() + 1 .. upto, each built on the one
  // before (or whole). Empty when `saved` lacks one of them.
  std::span<const saved_snapshot> run_to(std::uint64_t upto, std::span<const saved_snapshot> saved) const;
  // Ships such a run from memory, the kept ones one by one; stops early
  // (returning how many it shipped) at one build_from() cannot make.
  std::size_t ship_run(replicated_copy& copy, std::span<const saved_snapshot> run,
                       const std::function<void()>& before_commit);
  outgoing_snapshot build(const storage::snapshot_info& info);
  // The newest snapshot the store keeps up to `upto`, read from it (as
  // what differs from the copy's newest), listing the store again into
  // `listed` first; nullopt when it keeps none newer than last_shipped(),
  // or each one listed was pruned before it was read (3 tries).
  std::optional<outgoing_snapshot> build_newest_kept(std::uint64_t upto,
                                                     std::optional<std::vector<storage::snapshot_info>>& listed);
  // The newest of `run` (consecutive snapshots, each built on the one
  // before or whole), as the copy lacks it, from what the saves had;
  // nullopt when the first is built on a snapshot the copy does not hold,
  // or a value the copy lacks has no bytes here (or reaches chunks).
  std::optional<outgoing_snapshot> build_from(std::span<const saved_snapshot> run);
  // The parts of `out` that come from the snapshot's record: its numbers
  // and the schemas of `fingerprints`, taken from `stored_now` (what the
  // save stored) or else the local store. With `trust_absent`, a
  // fingerprint the store was found to lack before is not asked again
  // (asking makes the store write its journal into data.mdb first).
  void complete(outgoing_snapshot& out, const storage::snapshot_info& info, std::vector<std::uint64_t> fingerprints,
                std::span<const storage::schema_record> stored_now, bool trust_absent);
  // Adds to out.removed the keys the copy has that the whole snapshot of
  // `entries` (keys: key(i); `new_keys` of them the copy has not) has not.
  void removed_keys(outgoing_snapshot& out, std::span<const storage::entry_info> entries, std::size_t new_keys,
                    const std::function<std::string_view(std::size_t)>& key);
  void apply(const outgoing_snapshot& s, std::uint64_t seq);

  storage::snapshot_store& local_;
  copy_entries entries_;  // the copy's newest snapshot
  std::unordered_set<std::uint64_t> chunks_;
  std::unordered_set<std::uint64_t> schemas_;
  // Fingerprints of values whose schema the local store does not hold
  // (states registered without a schema text): build_from() does not ask
  // the store for them again; build(), which reads the store anyway, does.
  std::unordered_set<std::uint64_t> absent_locally_;
  std::uint64_t last_local_ = 0;
  std::uint64_t seq_ = 0;
  std::int64_t last_created_ = 0;
};

}  // namespace instadump::replication

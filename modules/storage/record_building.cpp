// A new snapshot's change, record and pruning (see record_building.h).
#include "storage/record_building.h"

#include <string>
#include <utility>

#include "common/errors.h"

namespace instadump::storage {

snapshot_change work_out_change(const writer_state& w, MDB_txn* txn, const store_dbis& dbis,
                                const std::filesystem::path& dir, std::uint64_t base_id,
                                const std::vector<stored_value>& stored, const std::vector<std::uint64_t>& removed) {
  snapshot_change c;
  if (w.intact && base_id == w.chain.newest && base_id != 0) {
    c.change = change_of(w.chain.current, stored, removed);
    c.value_count = w.chain.current.size() - c.change.removed.size() + c.change.added;
    return c;
  }
  snapshot_view next;
  if (base_id != 0) {
    const stored_chain chain = read_chain(txn, dbis, dir);
    if (base_id < chain.oldest || base_id > chain.newest()) {
      throw save_failed("instadump: cannot build a snapshot on " + snapshot_name(base_id, dir) +
                        ": it is not kept (the kept ones are " + std::to_string(chain.oldest) + " to " +
                        std::to_string(chain.newest()) + ")");
    }
    try {
      next = view_of(chain, base_id, dir);
    } catch (const storage_error& e) {
      throw save_failed(std::string("instadump: cannot build a snapshot on a snapshot that cannot be read: ") +
                        e.what());
    }
  }
  view_index base;
  base.assign(std::move(next));
  next = base.with(stored, removed);
  static const snapshot_view nothing;
  c.change = diff_views(w.intact ? w.chain.current.values() : nothing, next);
  c.value_count = next.size();
  c.whole = std::move(next);
  return c;
}

snapshot_record build_record(const writer_state& w, std::uint64_t id, std::int64_t created, const snapshot_change& c) {
  const view_change& change = c.change;
  snapshot_record record;
  record.id = id;
  record.created_unix_nanos = created;
  record.full = !w.intact || next_record_full(w.chain, change.changed.size(), c.value_count);
  if (record.full) {
    if (c.whole) {
      record.entries = *c.whole;
    } else {
      record.entries = w.chain.current.with(change.changed, change.removed);
    }
  } else {
    record.entries = change.changed;
    record.removed = change.removed;
  }
  record.value_count = c.value_count;
  std::uint64_t total = w.intact ? w.chain.total_bytes : 0;
  if (c.whole) {
    total = 0;
    for (const stored_value& v : *c.whole) total += v.ref.size;
  } else {
    for (const stored_value& v : change.superseded) total -= v.ref.size;
    for (const stored_value& v : change.changed) total += v.ref.size;
  }
  record.total_bytes = total;
  return record;
}

pruning plan_pruning(const writer_state& w, const view_change& change, bool full, unsigned keep) {
  pruning p;
  p.step = plan_step(w.chain, change, full, keep);
  if (!w.intact) p.step.drop_blobs.clear();
  p.drop_blobs = p.step.drop_blobs;
  p.drop_blobs.insert(p.drop_blobs.end(), w.sweep.begin(), w.sweep.end());
  return p;
}

}  // namespace instadump::storage

// Replaying snapshot records and the bookkeeping of live values (see
// snapshot_chain.h).
#include "storage/snapshot_chain.h"

#include <algorithm>
#include <iterator>
#include <string>

#include "common/errors.h"

namespace instadump::storage {
namespace {

bool same_value(const stored_value& a, const stored_value& b) {
  return a.ref == b.ref && a.schema == b.schema && a.checksum == b.checksum && a.framed == b.framed;
}

std::uint64_t first_kept(std::uint64_t oldest, std::uint64_t newest, unsigned keep) {
  const std::uint64_t by_count = newest >= keep ? newest - keep + 1 : 1;
  return std::max(std::max<std::uint64_t>(oldest, 1), by_count);
}

}  // namespace

void apply_record(snapshot_view& view, const snapshot_record& r, const std::string& where) {
  if (r.full) {
    view = r.entries;
    return;
  }
  snapshot_view next;
  next.reserve(view.size() + r.entries.size());
  auto removed = r.removed.begin();
  auto changed = r.entries.begin();
  for (const stored_value& v : view) {
    while (changed != r.entries.end() && changed->key_id < v.key_id) next.push_back(*changed++);
    while (removed != r.removed.end() && *removed < v.key_id) {
      throw corrupt_data("instadump: " + where + " removes key " + std::to_string(*removed) +
                         ", which the snapshot before it does not have; the records are damaged");
    }
    if (removed != r.removed.end() && *removed == v.key_id) {
      ++removed;
      if (changed != r.entries.end() && changed->key_id == v.key_id) ++changed;
      continue;
    }
    if (changed != r.entries.end() && changed->key_id == v.key_id) {
      next.push_back(*changed++);
    } else {
      next.push_back(v);
    }
  }
  if (removed != r.removed.end()) {
    throw corrupt_data("instadump: " + where + " removes key " + std::to_string(*removed) +
                       ", which the snapshot before it does not have; the records are damaged");
  }
  next.insert(next.end(), changed, r.entries.end());
  view = std::move(next);
}

view_change diff_views(const snapshot_view& prev, const snapshot_view& next) {
  view_change c;
  auto p = prev.begin();
  for (const stored_value& n : next) {
    while (p != prev.end() && p->key_id < n.key_id) {
      c.removed.push_back(p->key_id);
      if (p->ref.size != 0) c.superseded.push_back(p->ref);
      ++p;
    }
    if (p != prev.end() && p->key_id == n.key_id) {
      if (!same_value(*p, n)) {
        c.changed.push_back(n);
        if (p->ref.size != 0) c.superseded.push_back(p->ref);
      }
      ++p;
    } else {
      c.changed.push_back(n);
    }
  }
  for (; p != prev.end(); ++p) {
    c.removed.push_back(p->key_id);
    if (p->ref.size != 0) c.superseded.push_back(p->ref);
  }
  return c;
}

// --- live_values ---------------------------------------------------------------

void live_values::add(const stored_value& v) {
  if (v.ref.size == 0) return;  // no bytes, nothing to reclaim
  counted& c = values_[{v.ref.blob_id, v.ref.offset}];
  if (c.intervals == 0) c.value = v;
  ++c.intervals;
  ++per_blob_[v.ref.blob_id];
}

bool live_values::release(const value_ref& r) {
  auto it = values_.find({r.blob_id, r.offset});
  if (it == values_.end()) return false;
  if (--it->second.intervals == 0) values_.erase(it);
  auto b = per_blob_.find(r.blob_id);
  if (b == per_blob_.end()) return false;
  if (--b->second == 0) {
    per_blob_.erase(b);
    return true;
  }
  return false;
}

const stored_value* live_values::find(std::uint64_t blob_id, std::uint64_t offset) const {
  auto it = values_.find({blob_id, offset});
  return it == values_.end() ? nullptr : &it->second.value;
}

std::uint64_t live_values::intervals(std::uint64_t blob_id, std::uint64_t offset) const {
  auto it = values_.find({blob_id, offset});
  return it == values_.end() ? 0 : it->second.intervals;
}

std::uint64_t live_values::in_blob(std::uint64_t blob_id) const {
  auto it = per_blob_.find(blob_id);
  return it == per_blob_.end() ? 0 : it->second;
}

// --- chain_state -----------------------------------------------------------------

chain_state rebuild_chain(const std::vector<snapshot_record>& records, std::uint64_t oldest) {
  chain_state s;
  if (records.empty()) return s;
  if (!records.front().full) {
    throw corrupt_data("instadump: the oldest stored snapshot record (" + std::to_string(records.front().id) +
                       ") is not full, so no snapshot can be read; the records are damaged");
  }
  for (const snapshot_record& r : records) {
    const std::string where = "snapshot record " + std::to_string(r.id);
    if (!s.records.empty() && r.id != s.records.back().first + 1) {
      throw corrupt_data("instadump: snapshot record " + std::to_string(r.id) + " follows record " +
                         std::to_string(s.records.back().first) + "; the records are damaged");
    }
    snapshot_view next = s.current;
    apply_record(next, r, where);
    if (s.records.empty()) {
      for (const stored_value& v : next) s.live.add(v);
    } else {
      view_change c = diff_views(s.current, next);
      for (const stored_value& v : c.changed) s.live.add(v);
      if (r.id <= oldest) {
        for (const value_ref& ref : r.superseded) s.live.release(ref);
      } else {
        s.pending.emplace_back(r.id, r.superseded);
      }
    }
    s.current = std::move(next);
    s.records.emplace_back(r.id, r.full);
    if (r.full) {
      s.last_full = r.id;
      s.entries_since_full = 0;
    } else {
      s.entries_since_full += r.entries.size();
    }
  }
  s.newest = records.back().id;
  s.oldest = std::clamp<std::uint64_t>(oldest, records.front().id, s.newest);
  return s;
}

bool next_record_full(const chain_state& state, std::size_t changed, std::size_t next_values) {
  if (state.newest == 0) return true;
  return state.entries_since_full + changed >= std::max<std::size_t>(next_values, 1);
}

chain_step plan_step(const chain_state& state, const view_change& change, bool full, unsigned keep) {
  chain_step step;
  step.id = state.newest + 1;
  step.full = full;
  step.oldest = first_kept(state.oldest, step.id, keep);

  // Live values per blob after the step, counted the way apply_step will:
  // the new record's values start an interval each, then the superseded
  // lists of records up to the new oldest end one each (places nothing
  // counts any more are ignored, as live_values::release does).
  struct place_hash {
    std::size_t operator()(const std::pair<std::uint64_t, std::uint64_t>& p) const noexcept {
      return std::hash<std::uint64_t>()(p.first * 0x9E3779B97F4A7C15ull ^ p.second);
    }
  };
  std::unordered_map<std::pair<std::uint64_t, std::uint64_t>, std::int64_t, place_hash> place_delta;
  std::unordered_map<std::uint64_t, std::int64_t> blob_delta;
  for (const stored_value& v : change.changed) {
    if (v.ref.size == 0) continue;
    ++place_delta[{v.ref.blob_id, v.ref.offset}];
    ++blob_delta[v.ref.blob_id];
  }
  auto end_intervals = [&](const std::vector<value_ref>& refs) {
    for (const value_ref& r : refs) {
      std::int64_t& d = place_delta[{r.blob_id, r.offset}];
      if (static_cast<std::int64_t>(state.live.intervals(r.blob_id, r.offset)) + d <= 0) continue;
      --d;
      --blob_delta[r.blob_id];
    }
  };
  for (const auto& [id, refs] : state.pending) {
    if (id <= step.oldest) end_intervals(refs);
  }
  if (step.id <= step.oldest) end_intervals(change.superseded);
  for (const auto& [blob, d] : blob_delta) {
    if (blob != 0 && d < 0 && static_cast<std::int64_t>(state.live.in_blob(blob)) + d <= 0) {
      step.drop_blobs.push_back(blob);
    }
  }
  std::sort(step.drop_blobs.begin(), step.drop_blobs.end());

  // A replay of the oldest kept snapshot starts at the newest full record at
  // or before it; everything older can go.
  std::uint64_t replay_from = full && step.id <= step.oldest ? step.id : 0;
  for (const auto& [id, is_full] : state.records) {
    if (is_full && id <= step.oldest) replay_from = std::max(replay_from, id);
  }
  for (const auto& [id, is_full] : state.records) {
    if (id < replay_from) step.drop_records.push_back(id);
  }
  return step;
}

void apply_step(chain_state& state, const view_change& change, snapshot_view next, std::size_t record_entries,
                const chain_step& step) {
  for (const stored_value& v : change.changed) state.live.add(v);
  std::erase_if(state.pending, [&](const auto& p) {
    if (p.first > step.oldest) return false;
    for (const value_ref& r : p.second) state.live.release(r);
    return true;
  });
  if (step.id <= step.oldest) {
    for (const value_ref& r : change.superseded) state.live.release(r);
  } else {
    state.pending.emplace_back(step.id, change.superseded);
  }
  state.records.emplace_back(step.id, step.full);
  std::erase_if(state.records, [&](const auto& r) {
    return std::binary_search(step.drop_records.begin(), step.drop_records.end(), r.first);
  });
  if (step.full) {
    state.last_full = step.id;
    state.entries_since_full = 0;
  } else {
    state.entries_since_full += record_entries;
  }
  state.current = std::move(next);
  state.newest = step.id;
  state.oldest = step.oldest;
}

}  // namespace instadump::storage

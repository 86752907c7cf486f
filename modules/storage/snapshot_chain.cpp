// Replaying snapshot records and the bookkeeping of live values (see
// snapshot_chain.h).
#include "storage/snapshot_chain.h"

#include <algorithm>
#include <iterator>
#include <string>

#include "common/errors.h"

namespace instadump::storage {

std::uint64_t first_kept(std::uint64_t oldest, std::uint64_t newest, unsigned keep) {
  const std::uint64_t by_count = newest >= keep ? newest - keep + 1 : 1;
  return std::max(std::max<std::uint64_t>(oldest, 1), by_count);
}

bool same_value(const stored_value& a, const stored_value& b) {
  return a.ref == b.ref && a.schema == b.schema && a.checksum == b.checksum && a.framed == b.framed;
}

void apply_record(snapshot_view& view, const snapshot_record& r, const std::function<std::string()>& where) {
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
      throw corrupt_data("instadump: " + where() + " removes key " + std::to_string(*removed) +
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
    throw corrupt_data("instadump: " + where() + " removes key " + std::to_string(*removed) +
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
      if (p->ref.size != 0) c.superseded.push_back(*p);
      ++p;
    }
    if (p != prev.end() && p->key_id == n.key_id) {
      if (!same_value(*p, n)) {
        c.changed.push_back(n);
        if (p->ref.size != 0) c.superseded.push_back(*p);
      }
      ++p;
    } else {
      c.changed.push_back(n);
      ++c.added;
    }
  }
  for (; p != prev.end(); ++p) {
    c.removed.push_back(p->key_id);
    if (p->ref.size != 0) c.superseded.push_back(*p);
  }
  return c;
}

view_change change_of(const view_index& current, const std::vector<stored_value>& put,
                      const std::vector<std::uint64_t>& removed) {
  view_change c;
  auto at = current.begin();
  for (const stored_value& v : put) {
    at = current.seek(at, v.key_id);
    const bool had = at != current.end() && at->key_id == v.key_id;
    if (had && same_value(*at, v)) continue;
    if (had && at->ref.size != 0) c.superseded.push_back(*at);
    if (!had) ++c.added;
    c.changed.push_back(v);
  }
  at = current.begin();
  for (std::uint64_t k : removed) {
    at = current.seek(at, k);
    if (at == current.end() || at->key_id != k) continue;
    c.removed.push_back(k);
    if (at->ref.size != 0) c.superseded.push_back(*at);
  }
  return c;
}

// --- view_index ----------------------------------------------------------------

namespace {
bool key_less(const stored_value& v, std::uint64_t key_id) { return v.key_id < key_id; }
}  // namespace

const stored_value* view_index::find(std::uint64_t key_id) const {
  auto it = std::lower_bound(values_.begin(), values_.end(), key_id, key_less);
  return it != values_.end() && it->key_id == key_id ? &*it : nullptr;
}

view_index::const_iterator view_index::seek(const_iterator from, std::uint64_t key_id) const {
  if (from == values_.end() || from->key_id >= key_id) return from;
  // from[below] is less than key_id; probe 1, 3, 7, ... past it until a
  // value is not, then search the last gap.
  const std::size_t n = static_cast<std::size_t>(values_.end() - from);
  std::size_t below = 0;
  std::size_t step = 1;
  while (below + step < n && from[below + step].key_id < key_id) {
    below += step;
    step *= 2;
  }
  return std::lower_bound(from + below + 1, from + std::min(below + step, n), key_id, key_less);
}

snapshot_view view_index::with(const std::vector<stored_value>& changed,
                               const std::vector<std::uint64_t>& removed) const {
  snapshot_view out;
  out.reserve(values_.size() + changed.size());
  auto c = changed.begin();
  auto r = removed.begin();
  for (const stored_value& v : values_) {
    for (; c != changed.end() && c->key_id < v.key_id; ++c) out.push_back(*c);
    while (r != removed.end() && *r < v.key_id) ++r;
    if (c != changed.end() && c->key_id == v.key_id) {
      out.push_back(*c++);
    } else if (r == removed.end() || *r != v.key_id) {
      out.push_back(v);
    }
  }
  out.insert(out.end(), c, changed.end());
  return out;
}

void view_index::apply(const std::vector<stored_value>& changed, const std::vector<std::uint64_t>& removed) {
  // Replacing values of keys the view has is done in place. At the first
  // key it lacks (or with keys to remove) the rest is merged; values already
  // replaced are replaced by the same ones again.
  if (removed.empty()) {
    auto v = changed.begin();
    for (const_iterator at = begin(); v != changed.end(); ++v) {
      at = seek(at, v->key_id);
      if (at == end() || at->key_id != v->key_id) break;
      values_[static_cast<std::size_t>(at - begin())] = *v;
    }
    if (v == changed.end()) return;
  }
  values_ = with(changed, removed);
}

// --- live_values ---------------------------------------------------------------

void live_values::add(const value_ref& r) {
  if (r.size != 0) ++per_blob_[r.blob_id];  // values without bytes are in no blob
}

bool live_values::release(const value_ref& r) {
  if (r.size == 0) return false;
  auto it = per_blob_.find(r.blob_id);
  if (it == per_blob_.end()) return false;
  if (--it->second != 0) return false;
  per_blob_.erase(it);
  return true;
}

std::uint64_t live_values::in_blob(std::uint64_t blob_id) const {
  auto it = per_blob_.find(blob_id);
  return it == per_blob_.end() ? 0 : it->second;
}

// --- chain_state -----------------------------------------------------------------

chain_state rebuild_chain(const std::vector<snapshot_record>& records, std::uint64_t oldest) {
  chain_state s;
  if (records.empty()) return s;
  snapshot_view current;
  if (!records.front().full) {
    throw corrupt_data("instadump: the oldest stored snapshot record (" + std::to_string(records.front().id) +
                       ") is not full, so no snapshot can be read; the records are damaged");
  }
  for (const snapshot_record& r : records) {
    if (!s.records.empty() && r.id != s.records.back().first + 1) {
      throw corrupt_data("instadump: snapshot record " + std::to_string(r.id) + " follows record " +
                         std::to_string(s.records.back().first) + "; the records are damaged");
    }
    snapshot_view next = current;
    apply_record(next, r, [&] { return "snapshot record " + std::to_string(r.id); });
    if (s.records.empty()) {
      for (const stored_value& v : next) s.live.add(v.ref);
    } else {
      // What the record superseded is what view r.id - 1 had and view r.id
      // has not: the replay knows both.
      view_change c = diff_views(current, next);
      for (const stored_value& v : c.changed) s.live.add(v.ref);
      if (r.id <= oldest) {
        for (const stored_value& v : c.superseded) s.live.release(v.ref);
      } else {
        s.pending.emplace_back(r.id, std::move(c.superseded));
      }
    }
    current = std::move(next);
    s.records.emplace_back(r.id, r.full);
    if (r.full) {
      s.entries_since_full = 0;
    } else {
      s.entries_since_full += r.entries.size();
    }
  }
  s.newest = records.back().id;
  s.oldest = std::clamp<std::uint64_t>(oldest, records.front().id, s.newest);
  for (const stored_value& v : current) s.total_bytes += v.ref.size;
  s.current.assign(std::move(current));
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
  // lists of records up to the new oldest end one each.
  std::unordered_map<std::uint64_t, std::int64_t> delta;
  for (const stored_value& v : change.changed) {
    if (v.ref.size != 0) ++delta[v.ref.blob_id];
  }
  auto end_intervals = [&](const std::vector<stored_value>& values) {
    for (const stored_value& v : values) {
      const auto roots = v.chunk_roots.ids();
      step.ended_roots.insert(step.ended_roots.end(), roots.begin(), roots.end());
      if (v.ref.size == 0) continue;
      std::int64_t& d = delta[v.ref.blob_id];
      if (static_cast<std::int64_t>(state.live.in_blob(v.ref.blob_id)) + d > 0) --d;  // as release() does
    }
  };
  for (const auto& [id, values] : state.pending) {
    if (id <= step.oldest) end_intervals(values);
  }
  if (step.id <= step.oldest) end_intervals(change.superseded);
  for (const auto& [blob, d] : delta) {
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

void apply_step(chain_state& state, const view_change& change, std::size_t record_entries, const chain_step& step) {
  for (const stored_value& v : change.changed) state.live.add(v.ref);
  std::erase_if(state.pending, [&](const auto& p) {
    if (p.first > step.oldest) return false;
    for (const stored_value& v : p.second) state.live.release(v.ref);
    return true;
  });
  if (step.id <= step.oldest) {
    for (const stored_value& v : change.superseded) state.live.release(v.ref);
  } else {
    state.pending.emplace_back(step.id, change.superseded);
  }
  state.records.emplace_back(step.id, step.full);
  std::erase_if(state.records, [&](const auto& r) {
    return std::binary_search(step.drop_records.begin(), step.drop_records.end(), r.first);
  });
  if (step.full) {
    state.entries_since_full = 0;
  } else {
    state.entries_since_full += record_entries;
  }
  // The values replaced or removed are exactly the superseded ones (those
  // with bytes; the others count 0).
  for (const stored_value& v : change.superseded) state.total_bytes -= v.ref.size;
  for (const stored_value& v : change.changed) state.total_bytes += v.ref.size;
  state.current.apply(change.changed, change.removed);
  state.newest = step.id;
  state.oldest = step.oldest;
}

}  // namespace instadump::storage

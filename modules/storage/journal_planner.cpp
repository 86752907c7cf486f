// Planning journaled saves as the writer will write them (see
// journal_planner.h).
#include "storage/journal_planner.h"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <variant>
#include <vector>

#include "storage/key_assignment.h"
#include "storage/layout_rules.h"
#include "storage/record_io.h"

namespace instadump::storage {
namespace {

// Whether the key ids of `values` are distinct and none is in `removed`,
// told by marking each id (below `id_bound`) rather than sorting them --
// when the ids are few enough to mark; false also when that cannot tell.
// (Values come in the session's order, which is key id order unless the
// store numbered its keys otherwise: one restored from a replicated copy
// numbers them by name. Sorting 1,000 ids cost such a save ~50 us.)
bool distinct_by_marks(const std::vector<journal_value>& values, const std::vector<std::uint64_t>& removed,
                       std::uint64_t id_bound) {
  if (id_bound > 16 * values.size() + 4096) return false;
  std::vector<std::uint8_t> seen(id_bound);
  for (const journal_value& v : values) {
    if (v.key_id >= id_bound || seen[v.key_id]) return false;
    seen[v.key_id] = 1;
  }
  return std::none_of(removed.begin(), removed.end(), [&](std::uint64_t id) { return id < id_bound && seen[id]; });
}

}  // namespace

bool journal_planner::can_follow(const writer_state& w) noexcept {
  // Format 3 or 4 (a journaled save with chunks raises a store of format 3
  // when it goes into data.mdb); older formats: the next direct write
  // converts the store.
  return w.intact && w.format >= format_version_without_chunks;
}

void journal_planner::reset(const writer_state& w, std::int64_t store_created, std::uint64_t next_blob) {
  planned_ = false;
  if (!can_follow(w)) return;
  store_created_ = store_created;
  newest_ = w.chain.newest;
  newest_created_ = w.newest_created;
  next_blob_ = next_blob;
  next_key_id_ = w.next_key_id;
  names_ = w.names;
  key_ids_.clear();
  for (const auto& [name, id] : w.key_ids) {
    if (id >= kIndexedKeyIds) return;
    key_ids_.emplace(name, id);
  }
  size_plus_one_.assign(names_.size(), 0);
  for (const stored_value& v : w.chain.current) {
    if (v.key_id >= size_plus_one_.size()) return;
    size_plus_one_[v.key_id] = v.ref.size + 1;
  }
  total_bytes_ = w.chain.total_bytes;
  chunks_.reset(w, keep_, dir_);
  planned_ = true;
}

std::optional<journal_plan> journal_planner::plan(std::uint64_t base_id, const snapshot_delta& delta,
                                                  std::span<const schema_record> schemas) const {
  // A chunk-id floor is the writer's to record (snapshot_delta::next_chunk_id_floor).
  if (base_id != newest_ || delta.next_chunk_id_floor != 0) return std::nullopt;

  // The values, side by side in one blob, as the writer packs them.
  journal_plan plan;
  journal_entry& e = plan.entry;
  e.values.reserve(delta.put.size());
  for (const auto& put : delta.put) {
    const auto* v = std::get_if<new_value>(&put);
    if (!v || v->fill_in_place || v->size_bytes >= kPackedValueBytes) return std::nullopt;
    journal_value& out = e.values.emplace_back();
    out.offset = plan.blob_bytes;
    out.size_bytes = v->size_bytes;
    out.schema = v->schema;
    out.framed = v->framed;
    out.chunk_roots = v->chunk_roots;
    plan.blob_bytes += v->size_bytes;
    plan.chunk_roots += v->chunk_roots.size();
  }
  for (const schema_record& s : schemas) plan.schema_bytes += s.bytes.size() + 8;
  std::size_t chunk_bytes = 0;
  for (const new_chunk& c : delta.chunks) chunk_bytes += c.bytes.size() + 4;
  if (plan.blob_bytes + plan.schema_bytes + chunk_bytes + plan.chunk_roots * 8 > max_entry_bytes_) return std::nullopt;

  // Key ids, as the writer gives them.
  key_assignment keys(names_, key_ids_, next_key_id_);
  for (std::size_t i = 0; i < delta.put.size(); ++i) {
    const new_value& v = std::get<new_value>(delta.put[i]);
    std::uint64_t id = keys.find(v.key, v.key_id);
    if (id == 0) {
      if (keys.next_key_id() >= kIndexedKeyIds) return std::nullopt;
      id = keys.add(v.key);
      e.new_keys.emplace_back(id, std::string(v.key));
      plan.name_bytes += v.key.size();
    }
    e.values[i].key_id = id;
  }
  e.removed = keys.removed(delta.remove);
  // Every key at most once, and not also removed. (Values usually come in
  // key id order, which needs no sorting to check, or have ids few enough to
  // mark; sorting them finds the repeated one to name.)
  auto ascending = [&] {
    for (std::size_t i = 1; i < e.values.size(); ++i) {
      if (e.values[i - 1].key_id >= e.values[i].key_id) return false;
    }
    return true;
  };
  if ((!ascending() || !e.removed.empty()) && !distinct_by_marks(e.values, e.removed, keys.next_key_id())) {
    std::vector<std::pair<std::uint64_t, std::size_t>> ids(e.values.size());  // key id, index in delta.put
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = {e.values[i].key_id, i};
    std::sort(ids.begin(), ids.end());
    refuse_repeated_keys(
        ids, [](const auto& id) { return id.first; }, e.removed,
        [&](const auto& id) { return std::get<new_value>(delta.put[id.second]).key; });
  }

  // The ids that come next.
  e.store_created_unix_nanos = store_created_;
  e.snapshot_id = newest_ + 1;
  e.base_id = newest_;
  e.base_created_unix_nanos = newest_created_;
  e.created_unix_nanos = now_unix_nanos();
  e.blob_id = plan.blob_bytes != 0 ? next_blob_ : 0;
  e.schemas.assign(schemas.begin(), schemas.end());

  // The chunks, checked as the writer will check them (the names only
  // for its errors about values with roots).
  std::vector<std::string_view> names;
  if (plan.chunk_roots != 0) {
    names.resize(delta.put.size());
    for (std::size_t i = 0; i < names.size(); ++i) names[i] = std::get<new_value>(delta.put[i]).key;
  }
  plan.chunks = chunks_.plan(e.values, names, e.removed, delta.chunks, delta.chunks_sealed_here);
  return plan;
}

void journal_planner::advance(const journal_entry& done, chunk_forecast::step chunks) noexcept {
  try {
    planned_ = false;
    chunks_.advance(done.values, done.removed, std::move(chunks));
    newest_ = done.snapshot_id;
    newest_created_ = done.created_unix_nanos;
    if (done.blob_id != 0) next_blob_ = done.blob_id + 1;
    for (const auto& [id, name] : done.new_keys) {
      if (names_.size() <= id) names_.resize(id + 1);
      names_[id] = name;
      key_ids_.emplace(name, id);
      next_key_id_ = id + 1;
    }
    for (const journal_value& v : done.values) {
      if (size_plus_one_.size() <= v.key_id) size_plus_one_.resize(v.key_id + 1, 0);
      std::uint64_t& slot = size_plus_one_[v.key_id];
      if (slot != 0) total_bytes_ -= slot - 1;
      slot = v.size_bytes + 1;
      total_bytes_ += v.size_bytes;
    }
    for (std::uint64_t id : done.removed) {
      if (id < size_plus_one_.size() && size_plus_one_[id] != 0) {
        total_bytes_ -= size_plus_one_[id] - 1;
        size_plus_one_[id] = 0;
      }
    }
    planned_ = true;
  } catch (...) {
    // Out of memory: the next save writes directly, after the journaled
    // ones, and plans afresh.
  }
}

}  // namespace instadump::storage

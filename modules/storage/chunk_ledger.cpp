// Reference counts of stored chunks and their cascading reclamation (see
// chunk_ledger.h).
#include "storage/chunk_ledger.h"

#include <algorithm>
#include <unordered_set>

namespace instadump::storage {
namespace {

// Count changes of one step, by chunk id.
using deltas = std::unordered_map<std::uint64_t, std::int64_t>;

std::vector<std::pair<std::uint64_t, std::int64_t>> nonzero(const deltas& d) {
  std::vector<std::pair<std::uint64_t, std::int64_t>> out;
  for (const auto& [id, n] : d) {
    if (n != 0) out.emplace_back(id, n);
  }
  return out;
}

}  // namespace

const chunk_links* find_created(std::span<const chunk_links> created, std::uint64_t id) noexcept {
  if (created.empty() || id < created.front().id || id > created.back().id) return nullptr;
  if (created.back().id - created.front().id == created.size() - 1) return &created[id - created.front().id];
  auto it = std::lower_bound(created.begin(), created.end(), id,
                             [](const chunk_links& c, std::uint64_t v) { return c.id < v; });
  return it != created.end() && it->id == id ? &*it : nullptr;
}

std::uint64_t chunk_ledger::references(std::uint64_t id) const {
  auto it = chunks_.find(id);
  return it == chunks_.end() ? 0 : it->second.roots + it->second.parents;
}

void chunk_ledger::add_stored(chunk_links chunk) { chunks_[chunk.id].children = std::move(chunk.children); }

void chunk_ledger::add_roots(std::span<const std::uint64_t> roots) {
  for (std::uint64_t id : roots) {
    if (auto it = chunks_.find(id); it != chunks_.end()) ++it->second.roots;
  }
}

void chunk_ledger::finish_loading(bool find_orphans) {
  for (const auto& [id, e] : chunks_) {
    for (std::uint64_t child : e.children) {
      if (auto it = chunks_.find(child); it != chunks_.end()) ++it->second.parents;
    }
  }
  orphans_.clear();
  if (!find_orphans) return;
  for (const auto& [id, e] : chunks_) {
    if (e.roots + e.parents == 0) orphans_.push_back(id);
  }
  std::sort(orphans_.begin(), orphans_.end());
}

ledger_step chunk_ledger::plan(std::vector<chunk_links> created, std::span<const std::uint64_t> started,
                               std::span<const std::uint64_t> ended, bool reclaim) const {
  ledger_step step;
  step.created = std::move(created);
  step.reclaimed = reclaim;
  // The chunks of this step, new or stored, with their counts before it.
  auto stored_at = [&](std::uint64_t id) -> const entry* {
    auto it = chunks_.find(id);
    return it == chunks_.end() ? nullptr : &it->second;
  };
  auto known = [&](std::uint64_t id) { return find_created(step.created, id) || stored_at(id); };
  auto roots_before = [&](std::uint64_t id) { const entry* e = stored_at(id); return e ? e->roots : 0; };
  auto parents_before = [&](std::uint64_t id) { const entry* e = stored_at(id); return e ? e->parents : 0; };

  // References gained first, so that nothing this step refers to is dropped.
  deltas roots, parents;
  for (std::uint64_t id : started) {
    if (known(id)) ++roots[id];
  }
  step.created_parents.assign(step.created.size(), 0);
  for (const chunk_links& c : step.created) {
    for (std::uint64_t child : c.children) {
      if (const chunk_links* k = find_created(step.created, child)) {
        ++step.created_parents[static_cast<std::size_t>(k - step.created.data())];
      } else if (stored_at(child)) {
        ++parents[child];
      }
    }
  }
  // Then those lost (never below 0: the counts of damaged bookkeeping are
  // not made worse).
  std::vector<std::uint64_t> candidates;
  for (std::uint64_t id : ended) {
    if (!known(id)) continue;
    std::int64_t& d = roots[id];
    if (static_cast<std::int64_t>(roots_before(id)) + d > 0) {
      --d;
      candidates.push_back(id);
    }
  }
  if (reclaim) {
    candidates.insert(candidates.end(), orphans_.begin(), orphans_.end());
    // The cascade: a chunk at 0 is dropped, and each of its children loses a parent.
    std::vector<std::uint64_t> dropped;
    auto count_of = [&](std::uint64_t id) {
      auto r = roots.find(id);
      auto p = parents.find(id);
      return static_cast<std::int64_t>(roots_before(id) + parents_before(id)) + (r == roots.end() ? 0 : r->second) +
             (p == parents.end() ? 0 : p->second);
    };
    std::unordered_set<std::uint64_t> is_dropped;
    while (!candidates.empty()) {
      const std::uint64_t id = candidates.back();
      candidates.pop_back();
      if (!stored_at(id) || count_of(id) != 0 || !is_dropped.insert(id).second) continue;
      dropped.push_back(id);
      for (std::uint64_t child : stored_at(id)->children) {
        if (!known(child)) continue;
        std::int64_t& d = parents[child];
        if (static_cast<std::int64_t>(parents_before(child)) + d > 0) {
          --d;
          candidates.push_back(child);
        }
      }
    }
    std::sort(dropped.begin(), dropped.end());
    step.dropped = std::move(dropped);
  }
  step.root_deltas = nonzero(roots);
  step.parent_deltas = nonzero(parents);
  return step;
}

void chunk_ledger::apply(ledger_step step) {
  chunks_.reserve(chunks_.size() + step.created.size());
  for (std::size_t i = 0; i < step.created.size(); ++i) {
    entry& e = chunks_[step.created[i].id];
    e.children = std::move(step.created[i].children);
    if (i < step.created_parents.size()) e.parents = step.created_parents[i];
  }
  for (const auto& [id, d] : step.root_deltas) {
    if (auto it = chunks_.find(id); it != chunks_.end()) it->second.roots += d;
  }
  for (const auto& [id, d] : step.parent_deltas) {
    if (auto it = chunks_.find(id); it != chunks_.end()) it->second.parents += d;
  }
  for (std::uint64_t id : step.dropped) chunks_.erase(id);
  if (step.reclaimed) orphans_.clear();  // each was dropped, or is referred to now
}

}  // namespace instadump::storage

// Following journaled snapshots' chunks as the writer will write them (see
// chunk_forecast.h).
#include "storage/chunk_forecast.h"

#include "storage/snapshot_chain.h"

namespace instadump::storage {
namespace {

void append(std::vector<std::uint64_t>& to, std::span<const std::uint64_t> ids) {
  to.insert(to.end(), ids.begin(), ids.end());
}

}  // namespace

void chunk_forecast::reset(const writer_state& w, unsigned keep, const std::filesystem::path& dir) {
  dir_ = dir;
  keep_ = keep;
  ledger_ = w.chunks;
  next_chunk_id_ = w.next_chunk_id;
  newest_ = w.chain.newest;
  oldest_ = w.chain.oldest;
  current_.clear();
  for (const stored_value& v : w.chain.current) {
    if (!v.chunk_roots.empty()) current_.emplace(v.key_id, v.chunk_roots);
  }
  pending_.clear();
  for (const auto& [id, superseded] : w.chain.pending) {
    std::vector<std::uint64_t>& roots = pending_.emplace_back(id, std::vector<std::uint64_t>()).second;
    for (const stored_value& v : superseded) append(roots, v.chunk_roots.ids());
  }
}

chunk_forecast::step chunk_forecast::plan(const std::vector<journal_value>& values,
                                          std::span<const std::string_view> names,
                                          const std::vector<std::uint64_t>& removed,
                                          std::span<const new_chunk> chunks, bool sealed_here) const {
  step s;
  std::vector<value_roots> roots;
  std::vector<std::uint64_t> started;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i].chunk_roots.empty()) continue;
    roots.push_back(value_roots{names[i], values[i].chunk_roots});
    append(started, values[i].chunk_roots);
  }
  s.admitted = admit_chunks(ledger_, next_chunk_id_, chunks, roots, dir_, sealed_here);

  // The intervals this snapshot ends, as plan_step (snapshot_chain.h) ends
  // them: those superseded up to the new oldest kept snapshot.
  const std::uint64_t id = newest_ + 1;
  s.oldest = first_kept(oldest_, id, keep_);
  auto supersede = [&](std::uint64_t key_id) {
    if (auto it = current_.find(key_id); it != current_.end()) append(s.superseded_roots, it->second.ids());
  };
  for (const journal_value& v : values) supersede(v.key_id);
  for (std::uint64_t key_id : removed) supersede(key_id);
  std::vector<std::uint64_t> ended;
  for (const auto& [record, superseded] : pending_) {
    if (record <= s.oldest) append(ended, superseded);
  }
  if (id <= s.oldest) append(ended, s.superseded_roots);
  s.ledger = ledger_.plan(std::move(s.admitted.links), started, ended, true);
  return s;
}

void chunk_forecast::advance(const std::vector<journal_value>& values, const std::vector<std::uint64_t>& removed,
                             step done) {
  const std::uint64_t id = newest_ + 1;
  ledger_.apply(std::move(done.ledger));
  next_chunk_id_ = done.admitted.next_chunk_id;
  while (!pending_.empty() && pending_.front().first <= done.oldest) pending_.pop_front();
  if (id > done.oldest) pending_.emplace_back(id, std::move(done.superseded_roots));
  for (std::uint64_t key_id : removed) current_.erase(key_id);
  for (const journal_value& v : values) {
    if (v.chunk_roots.empty()) {
      current_.erase(v.key_id);
    } else {
      current_.insert_or_assign(v.key_id, chunk_root_list(v.chunk_roots));
    }
  }
  newest_ = id;
  oldest_ = done.oldest;
}

}  // namespace instadump::storage

// snapshot_shipper (snapshot_shipper.h): local snapshots to the copy.
#include "replication/snapshot_shipper.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/errors.h"
#include "storage/chunk_format.h"

namespace instadump::replication {
namespace {

copy_entry entry_of(const storage::entry_info& e) {
  return copy_entry{e.schema, e.checksum, e.size_bytes, e.framed, e.chunk_roots};
}

// entry_of(e) == copy, without building entry_of(e).
bool same_entry(const storage::entry_info& e, const copy_entry& copy) {
  return e.schema == copy.schema && e.checksum == copy.checksum && e.size_bytes == copy.size_bytes &&
         e.framed == copy.framed && e.chunk_roots == copy.chunk_roots;
}

bool same_values(const storage::snapshot_info& local, const copy_entries& copy) {
  if (local.entries.size() != copy.size()) return false;
  for (const auto& e : local.entries) {
    auto it = copy.find(e.key);
    if (it == copy.end() || !same_entry(e, it->second)) return false;
  }
  return true;
}

// What a write gets for before_commit when it has none.
const std::function<void()>& no_hook() {
  static const std::function<void()> none;
  return none;
}

}  // namespace

void snapshot_shipper::attach(replicated_copy& copy, restored_snapshot* read_just_now) {
  std::optional<copy_head> head = copy.head();
  if (!head) {
    entries_.clear();
  } else if (read_just_now && read_just_now->seq == head->seq) {  // (seq 0: nothing restored)
    entries_ = std::move(read_just_now->entries);
  } else {
    entries_ = copy.entries_at(head->seq);
  }
  chunks_ = copy.chunk_ids();
  schemas_ = copy.schema_fingerprints();
  last_local_ = 0;
  seq_ = head ? head->seq : 0;
  last_created_ = head ? head->local_created_unix_nanos : 0;
  if (!chunks_.empty()) {
    const std::uint64_t copy_largest = *std::max_element(chunks_.begin(), chunks_.end());
    const std::uint64_t local_next = local_.next_chunk_id();
    if (local_next <= copy_largest) {
      throw replication_error(
          "instadump replication of store \"" + copy.store() + "\": the local store in \"" +
          local_.directory().string() + "\" hands out chunk ids from " + std::to_string(local_next) +
          " on, but the replicated copy holds chunks up to id " + std::to_string(copy_largest) +
          ": its new chunks would take ids the copy has for other bytes. It was restored by an older build; "
          "restore an empty directory from the copy again (instadump restore) and go on from that one");
    }
  }
  if (!head) return;
  if (head->epoch == copy.epoch()) {  // ours, shipped before the connection was lost
    last_local_ = head->local_id;
    return;
  }
  const std::vector<storage::snapshot_info> kept = local_.list_snapshots();  // newest first
  if (kept.empty()) return;
  for (const auto& s : kept) {
    if ((s.id == head->local_id && s.created_unix_nanos == head->local_created_unix_nanos) ||
        same_values(s, entries_)) {
      last_local_ = s.id;
      last_created_ = s.created_unix_nanos;
      return;
    }
  }
  if (kept.back().created_unix_nanos > head->local_created_unix_nanos) return;  // all kept ones are newer
  throw replication_error(
      "instadump replication of store \"" + copy.store() + "\": the local store in \"" +
      local_.directory().string() + "\" and the replicated copy have diverged: the copy's newest snapshot (" +
      std::to_string(head->seq) + ", written by epoch " + std::to_string(head->epoch) +
      ") is none of the local ones and is newer than the oldest of them. Another writer went on without this "
      "store: start this instance on an empty directory to restore the copy, or use another store name");
}

std::span<const saved_snapshot> snapshot_shipper::run_to(std::uint64_t upto, std::span<const saved_snapshot> saved) const {
  auto first = std::find_if(saved.begin(), saved.end(), [&](const saved_snapshot& s) { return s.info.id > last_local_; });
  std::uint64_t before = last_local_;
  for (auto s = first; s != saved.end(); ++s) {
    const bool continues = s->info.id == before + 1 && (s->base_id == before || s->base_id == 0);
    if (!continues) return {};
    before = s->info.id;
    if (before == upto) return {first, s + 1};
  }
  return {};
}

std::size_t snapshot_shipper::ship_run(replicated_copy& copy, std::span<const saved_snapshot> run,
                                       const std::function<void()>& before_commit) {
  // Those of the run the store had pruned when its newest was written are
  // shipped together with the first one it kept, as that one: what a
  // sender that fell behind ships anyway.
  const std::size_t keep = std::max<std::size_t>(local_.keep_generations(), 1);
  std::size_t next = run.size() > keep ? run.size() - keep + 1 : 1;
  std::size_t shipped = 0;
  for (std::size_t from = 0; from < run.size(); from = next, ++next) {
    std::optional<outgoing_snapshot> s = build_from(run.subspan(from, next - from));
    if (!s) break;  // the store has what it lacks
    apply(*s, copy.write(*s, next == run.size() ? before_commit : no_hook()));
    ++shipped;
  }
  return shipped;
}

std::size_t snapshot_shipper::ship_until(replicated_copy& copy, std::uint64_t upto,
                                         std::span<const saved_snapshot> saved,
                                         const std::function<void()>& before_commit) {
  // The saves handed over every snapshot to ship (the usual case, sync or
  // async): the store is not asked which it keeps -- asking, like any read
  // of it, first writes its journal into data.mdb, a durable LMDB commit
  // competing with the saves for the disk and the journal's lock.
  std::size_t shipped = 0;
  if (const std::span<const saved_snapshot> run = run_to(upto, saved); !run.empty()) {
    shipped = ship_run(copy, run, before_commit);
    if (last_local_ >= upto) return shipped;
  }
  // The kept ones (their ids are read without decoding their records); a
  // handed-over snapshot pruned meanwhile is not shipped, as if the sender
  // had not seen it (the next one then comes from the store, its base being
  // gone from the copy's view).
  std::vector<std::uint64_t> pending = local_.snapshot_ids();
  std::erase_if(pending, [&](std::uint64_t id) { return id <= last_local_ || id > upto; });
  std::sort(pending.begin(), pending.end());
  std::optional<std::vector<storage::snapshot_info>> listed;  // read when first needed
  for (std::uint64_t id : pending) {
    if (id <= last_local_) continue;  // covered by a newer one read from the store
    auto hand = std::lower_bound(saved.begin(), saved.end(), id,
                                 [](const saved_snapshot& s, std::uint64_t v) { return s.info.id < v; });
    std::optional<outgoing_snapshot> s;
    if (hand != saved.end() && hand->info.id == id) s = build_from(std::span(&*hand, 1));
    if (!s) {
      if (!listed) listed = local_.list_snapshots();
      auto info = std::find_if(listed->begin(), listed->end(), [&](const auto& i) { return i.id == id; });
      if (info != listed->end()) {
        try {
          s = build(*info);
        } catch (const load_failed&) {  // pruned since listed
        }
      }
      if (!s) {
        // Pruned: saves went on meanwhile, pruning the older ones, and may
        // prune each next one before it is read. The newest kept one
        // stands for all of them (what differs from the copy's newest);
        // the saves after it are handed over.
        s = build_newest_kept(upto, listed);
        if (!s) continue;
      }
    }
    std::uint64_t seq = copy.write(*s, s->local_id == upto ? before_commit : no_hook());
    apply(*s, seq);
    ++shipped;
  }
  return shipped;
}

std::optional<outgoing_snapshot> snapshot_shipper::build_newest_kept(
    std::uint64_t upto, std::optional<std::vector<storage::snapshot_info>>& listed) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    listed = local_.list_snapshots();  // newest first
    auto info = std::find_if(listed->begin(), listed->end(), [&](const auto& i) { return i.id <= upto; });
    if (info == listed->end() || info->id <= last_local_) return std::nullopt;
    try {
      return build(*info);
    } catch (const load_failed&) {  // pruned too: list again
    }
  }
  return std::nullopt;
}

std::optional<outgoing_snapshot> snapshot_shipper::build_from(std::span<const saved_snapshot> run) {
  // Only the run from its last whole snapshot on matters.
  for (std::size_t i = run.size(); i-- > 1;) {
    if (run[i].base_id == 0) {
      run = run.subspan(i);
      break;
    }
  }
  // A snapshot built on a base stands for what changed only when the copy
  // holds that base.
  if (run.front().base_id != 0 && run.front().base_id != last_local_) return std::nullopt;
  for (const saved_snapshot& s : run) {
    if (s.keys.size() != s.info.entries.size() || s.bytes.size() != s.info.entries.size()) return std::nullopt;
  }
  const bool whole = run.front().base_id == 0;
  const saved_snapshot& newest = run.back();
  // Newest first, each key's newest fate decides (within one snapshot its
  // put, as in the store); `decided` is needed when a key can have more
  // than one.
  const bool single = run.size() == 1 && newest.removed.empty();
  std::unordered_set<std::string_view> decided;
  outgoing_snapshot out;
  std::vector<std::uint64_t> fingerprints;
  std::vector<storage::schema_record> stored_now;
  std::size_t new_keys = 0;
  out.puts.reserve(newest.info.entries.size());
  for (auto s = run.rbegin(); s != run.rend(); ++s) {
    const auto& entries = s->info.entries;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const storage::entry_info& e = entries[i];
      const std::string_view key = s->keys[i];
      if (!single && !decided.insert(key).second) continue;
      auto it = entries_.find(key);
      if (it == entries_.end()) {
        ++new_keys;
      } else if (same_entry(e, it->second)) {
        continue;
      }
      if (!s->bytes[i] || !e.chunk_roots.empty()) return std::nullopt;
      out.puts.push_back({key, entry_of(e), *s->bytes[i], it == entries_.end() ? nullptr : &it->second});
      if (!schemas_.count(e.schema.fingerprint)) fingerprints.push_back(e.schema.fingerprint);
    }
    for (const auto& k : s->removed) {
      if ((single || decided.insert(k).second) && entries_.count(k)) out.removed.push_back(k);
    }
    stored_now.insert(stored_now.end(), s->schemas.begin(), s->schemas.end());
  }
  complete(out, newest.info, std::move(fingerprints), stored_now, true);
  if (whole && single) {
    removed_keys(out, newest.info.entries, new_keys, [&](std::size_t i) { return newest.keys[i]; });
  } else if (whole) {  // the copy's keys none of the run decided
    for (const auto& [k, entry] : entries_) {
      if (!decided.count(k)) out.removed.push_back(k);
    }
  }
  return out;
}

outgoing_snapshot snapshot_shipper::build(const storage::snapshot_info& info) {
  outgoing_snapshot out;
  std::unordered_set<std::uint64_t> queued;
  std::vector<std::uint64_t> fingerprints;
  std::size_t new_keys = 0;
  local_.read_snapshot(info.id, [&](const storage::entry_info& e, kj::ArrayPtr<const capnp::word> words,
                                    const storage::chunk_source& chunks) {
    auto it = entries_.find(e.key);
    if (it == entries_.end()) ++new_keys;
    else if (same_entry(e, it->second)) return;
    auto bytes = words.asBytes();
    const auto* first = reinterpret_cast<const std::byte*>(bytes.begin());
    const std::vector<std::byte>& held = out.held_bytes.emplace_back(first, first + bytes.size());
    out.puts.push_back(
        {out.held_keys.emplace_back(e.key), entry_of(e), held, it == entries_.end() ? nullptr : &it->second});
    if (!schemas_.count(e.schema.fingerprint)) fingerprints.push_back(e.schema.fingerprint);
    // The chunks it reaches that the copy lacks (a chunk the copy holds
    // brings its children with it).
    std::vector<std::uint64_t> todo(e.chunk_roots.begin(), e.chunk_roots.end());
    while (!todo.empty()) {
      const std::uint64_t id = todo.back();
      todo.pop_back();
      if (chunks_.count(id) || !queued.insert(id).second) continue;
      storage::chunk_view c = chunks.get(id);
      out.chunks.push_back({id, storage::encode_chunk(c.id, c.schema, c.node_type, c.children, c.payload)});
      todo.insert(todo.end(), c.children.begin(), c.children.end());
    }
  });
  complete(out, info, std::move(fingerprints), {}, false);
  removed_keys(out, info.entries, new_keys, [&](std::size_t i) { return std::string_view(info.entries[i].key); });
  return out;
}

void snapshot_shipper::complete(outgoing_snapshot& out, const storage::snapshot_info& info,
                                std::vector<std::uint64_t> fingerprints,
                                std::span<const storage::schema_record> stored_now, bool trust_absent) {
  out.local_id = info.id;
  out.local_created_unix_nanos = info.created_unix_nanos;
  out.total_bytes = info.total_bytes;
  std::sort(fingerprints.begin(), fingerprints.end());
  fingerprints.erase(std::unique(fingerprints.begin(), fingerprints.end()), fingerprints.end());
  for (std::uint64_t fp : fingerprints) {
    auto now = std::find_if(stored_now.begin(), stored_now.end(), [&](const auto& r) { return r.fingerprint == fp; });
    if (now != stored_now.end()) {
      out.schemas.push_back(*now);
    } else if (trust_absent && absent_locally_.count(fp)) {
      continue;
    } else if (auto bytes = local_.get_schema(fp)) {
      out.schemas.push_back({fp, std::move(*bytes)});
      absent_locally_.erase(fp);
    } else {
      absent_locally_.insert(fp);
    }
  }
}

void snapshot_shipper::removed_keys(outgoing_snapshot& out, std::span<const storage::entry_info> entries,
                                    std::size_t new_keys, const std::function<std::string_view(std::size_t)>& key) {
  // The copy has keys the snapshot has not when it has more than the
  // snapshot's keys it knows (the snapshot's keys are unique).
  if (entries_.size() <= entries.size() - new_keys) return;
  std::unordered_set<std::string_view> present;
  for (std::size_t i = 0; i < entries.size(); ++i) present.insert(key(i));
  for (const auto& [k, entry] : entries_) {
    if (!present.count(k)) out.removed.push_back(k);
  }
}

void snapshot_shipper::apply(const outgoing_snapshot& s, std::uint64_t seq) {
  // (`known` points into entries_, whose elements stay where they are
  // while others are added or removed.)
  for (const auto& p : s.puts) {
    if (p.known) {
      *p.known = p.entry;
    } else {
      entries_.insert_or_assign(std::string(p.key), p.entry);
    }
  }
  for (const auto& k : s.removed) entries_.erase(k);
  for (const auto& c : s.chunks) chunks_.insert(c.id);
  for (const auto& r : s.schemas) schemas_.insert(r.fingerprint);
  last_local_ = s.local_id;
  last_created_ = s.local_created_unix_nanos;
  seq_ = seq;
}

}  // namespace instadump::replication

// Reading the journal beside data.mdb for a read-only store (see
// journal_overlay.h).
#include "storage/journal_overlay.h"

#include <algorithm>
#include <string>
#include <utility>

#include "common/errors.h"
#include "storage/checksum.h"
#include "storage/journal_file.h"
#include "storage/journal_recovery.h"
#include "storage/lmdb_env.h"
#include "storage/test_hooks.h"

namespace instadump::storage {
namespace {

// A frame that looks damaged may be one the writer was writing while it was
// read (the frames behind it written by the time they were read): it is
// reported only when that many reads in a row find it.
constexpr int kDamageReads = 3;

// Whether data.mdb's newest commit is the one `txn` reads: nothing was
// committed since it began.
bool unchanged_since(MDB_txn* txn) {
  MDB_envinfo info;
  lmdb::check(mdb_env_info(mdb_txn_env(txn), &info), "mdb_env_info");
  return info.me_last_txnid == mdb_txn_id(txn);
}

// data.mdb's newest snapshot in `txn`, what the journal must continue.
journal_base base_of(MDB_txn* txn, const store_dbis& dbis, const std::filesystem::path& dir) {
  journal_base base;
  base.store_created = read_store_created(txn, dbis, dir);
  const std::optional<std::uint64_t> newest = lmdb::last_id(txn, dbis.snapshots);
  if (!newest) return base;
  base.newest = *newest;
  lmdb::id_key key(*newest);
  MDB_val k = key.val(), v;
  lmdb::check(mdb_get(txn, dbis.snapshots, &k, &v), "mdb_get (snapshot)");
  try {
    base.newest_created = decode_record(lmdb::bytes_of(v), "the record of " + snapshot_name(*newest, dir)).created_unix_nanos;
  } catch (const corrupt_data&) {
    // Unknown (0): recover_journaled does not compare it then, as at a
    // writable open; reading that snapshot reports the damage.
  }
  return base;
}

std::string journal_name(const std::filesystem::path& dir) { return (dir / "journal.log").string(); }

}  // namespace

journal_overlay journal_overlay::read(MDB_txn* txn, const store_dbis& dbis, const std::filesystem::path& dir) {
  // A writer journals only on a store it has converted (a commit): a format
  // 1 store as this transaction sees it has nothing journaled after it.
  if (read_format(txn, dbis, dir) == 1) return {};
  const std::uint64_t newest = lmdb::last_id(txn, dbis.snapshots).value_or(0);
  for (int reads = 1;; ++reads) {
    detail::run_before_journal_read();
    journal_contents contents;
    try {
      contents = read_journal_contents(dir, newest + 1);
    } catch (const journal_io_error& e) {
      throw load_failed("instadump: cannot read the journal of the store in " + dir.string() + ": " + e.what());
    }
    const bool unchanged = unchanged_since(txn);
    const bool any_newer = !contents.frames.empty();  // (only frames newer than data.mdb's were taken)
    if (contents.damage && contents.damage->snapshot_id > newest) {
      if (!unchanged) throw journal_moved{};
      if (reads < kDamageReads) continue;
      const damaged_frame& d = *contents.damage;
      throw corrupt_data("instadump: " + journal_name(dir) + " is damaged: the frame of snapshot " +
                         std::to_string(d.snapshot_id) + " at offset " + std::to_string(d.offset) +
                         " fails its checksum, yet intact frames follow it, so snapshots from " +
                         std::to_string(d.snapshot_id) + " on cannot be read; data.mdb's newest is snapshot " +
                         std::to_string(newest) + ". Restore the store from a backup, or (with no writer running) "
                         "remove journal.log to go back to data.mdb's snapshots");
    }
    if (!any_newer) return {};
    journal_overlay overlay;
    try {
      recover_journaled(contents.frames, base_of(txn, dbis, dir), dir, dir / "journal.log",
                        [&](journal_entry&& entry, std::vector<std::uint64_t>&& payload) {
                          // (Moving a vector keeps its buffer: the entry's spans stay valid.)
                          overlay.payloads_.push_back(std::move(payload));
                          overlay.entries_.push_back(std::move(entry));
                        });
    } catch (const open_failed& e) {
      if (!unchanged) throw journal_moved{};
      throw corrupt_data(e.what());
    }
    for (const journal_entry& e : overlay.entries_) {
      std::vector<std::uint64_t>& sums = overlay.checksums_.emplace_back();
      sums.reserve(e.values.size());
      for (const journal_value& v : e.values) sums.push_back(checksum_of(e.blob.subspan(v.offset, v.size_bytes)));
      for (const std::span<const std::byte> c : e.chunks) overlay.chunks_.emplace(chunk_id_of(c), c);
    }
    return overlay;
  }
}

void journal_overlay::extend(stored_chain& chain) const {
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const journal_entry& e = entries_[i];
    snapshot_record r;
    r.id = e.snapshot_id;
    r.created_unix_nanos = e.created_unix_nanos;
    r.full = e.base_id == 0;  // the first snapshot of the store: nothing to change
    r.entries.reserve(e.values.size());
    for (std::size_t v = 0; v < e.values.size(); ++v) {
      const journal_value& jv = e.values[v];
      stored_value s;
      s.key_id = jv.key_id;
      if (jv.size_bytes != 0) s.ref = value_ref{e.blob_id, jv.offset, jv.size_bytes};
      s.checksum = checksums_[i][v];
      s.schema = jv.schema;
      s.framed = jv.framed;
      s.chunk_roots = chunk_root_list(jv.chunk_roots);
      r.entries.push_back(std::move(s));
      r.total_bytes += jv.size_bytes;
    }
    std::sort(r.entries.begin(), r.entries.end(),
              [](const stored_value& a, const stored_value& b) { return a.key_id < b.key_id; });
    r.removed = e.removed;
    std::sort(r.removed.begin(), r.removed.end());
    r.value_count = r.entries.size();
    for (const auto& [id, name] : e.new_keys) chain.names.emplace(id, name);
    chain_link link;
    link.id = r.id;
    link.record = std::move(r);
    chain.links.push_back(std::move(link));
  }
}

std::optional<std::span<const std::byte>> journal_overlay::blob(std::uint64_t id) const {
  for (const journal_entry& e : entries_) {
    if (e.blob_id == id && !e.blob.empty()) return e.blob;
  }
  return std::nullopt;
}

const schema_record* journal_overlay::schema(std::uint64_t fingerprint) const {
  for (auto e = entries_.rbegin(); e != entries_.rend(); ++e) {
    for (const schema_record& s : e->schemas) {
      if (s.fingerprint == fingerprint) return &s;
    }
  }
  return nullptr;
}

std::uint64_t journal_overlay::value_bytes() const noexcept {
  std::uint64_t bytes = 0;
  for (const journal_entry& e : entries_) bytes += e.blob.size();
  return bytes;
}

}  // namespace instadump::storage

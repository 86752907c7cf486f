// `instadump verify DIR`: reads every snapshot data.mdb keeps as a load
// would -- replaying its chain of records, checking every value's checksum
// and every chunk it reaches -- and decodes every value under its stored
// schema; checks every snapshot still only in the journal from its frame
// (checksum, entry, each new value decoded), and reads the newest snapshot
// through the store (data.mdb with the journal laid over it). Prints each
// problem with its snapshot and key; exit status 0 only when there is none.
//
// Journaled snapshots are checked from their frames rather than each read
// through the store: a read-only read parses the whole journal, and a
// writer saving continuously keeps thousands of snapshots there.
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "cli_error.h"
#include "commands.h"
#include "journal_check.h"
#include "lmdb_direct.h"
#include "storage/chunked_members_codec.h"
#include "storage/journal_codec.h"
#include "store_access.h"
#include "stored_value.h"

namespace instadump::cli {
namespace {

std::string without_prefix(std::string message) {
  static constexpr std::string_view kPrefix = "instadump: ";
  if (message.starts_with(kPrefix)) message.erase(0, kPrefix.size());
  return message;
}

// For values checked from a journal frame: their chunks are checked when
// the newest snapshot is read through the store.
class no_chunks : public storage::chunk_source {
 public:
  storage::chunk_view get(std::uint64_t id) const override {
    throw corrupt_data("chunk " + std::to_string(id) + " is not read from the journal");
  }
};

class verify_run {
 public:
  explicit verify_run(storage::snapshot_store& store) : store_(store), schemas_(store) {}

  // Snapshot `id` read through the store.
  void snapshot(std::uint64_t id) {
    const std::string where = "snapshot " + std::to_string(id);
    try {
      // Every damaged value is named, not only a snapshot's first.
      store_.check_snapshot(
          id,
          [&](const storage::entry_info& e, kj::ArrayPtr<const capnp::word> words, const storage::chunk_source& chunks) {
            key_names_[e.key_id] = e.key;
            value(where, e, words, chunks);
          },
          [&](const storage::entry_info& e, const std::string& problem) {
            key_names_[e.key_id] = e.key;
            problems_.push_back(where + ": " + without_prefix(problem));
          });
    } catch (const error& e) {
      // A writer running beside verify prunes its oldest snapshots.
      if (pruned_meanwhile(store_, id)) return;
      problems_.push_back(where + ": " + without_prefix(e.what()));
    }
  }

  // The snapshots of journal frames: the entry, and each new value.
  void frames(const std::vector<storage::journal_frame>& frames, std::uint64_t after) {
    std::vector<storage::journal_entry> entries;
    for (const storage::journal_frame& f : frames) {
      if (f.snapshot_id <= after) continue;
      const std::string where = "journal.log: snapshot " + std::to_string(f.snapshot_id);
      try {
        entries.push_back(storage::decode_journal_entry(
            kj::arrayPtr(reinterpret_cast<const capnp::word*>(f.payload.data()), f.payload.size()), where));
      } catch (const error& e) {
        problems_.push_back(without_prefix(e.what()));
      }
    }
    for (const auto& entry : entries) {
      for (const storage::schema_record& r : entry.schemas) schemas_.add(r.fingerprint, r.bytes);
      for (const auto& [key_id, name] : entry.new_keys) key_names_[key_id] = name;
    }
    const no_chunks chunks;
    for (const auto& entry : entries) {
      ++journaled_;
      const std::string where = "journal.log: snapshot " + std::to_string(entry.snapshot_id);
      for (const storage::journal_value& v : entry.values) {
        if (!v.chunk_roots.empty()) continue;  // its chunks: see no_chunks
        storage::entry_info e;
        auto name = key_names_.find(v.key_id);
        e.key = name == key_names_.end() ? "key id " + std::to_string(v.key_id) : name->second;
        e.schema = v.schema;
        e.framed = v.framed;
        const auto bytes = entry.blob.subspan(v.offset, v.size_bytes);
        value(where, e, kj::arrayPtr(reinterpret_cast<const capnp::word*>(bytes.data()), bytes.size() / 8), chunks);
      }
    }
  }

  std::string name_of(std::uint64_t key_id) const {
    auto it = key_names_.find(key_id);
    return it == key_names_.end() ? std::string() : it->second;
  }
  void problem(std::string p) { problems_.push_back(std::move(p)); }
  const std::vector<std::string>& problems() const { return problems_; }
  std::uint64_t values() const { return values_; }
  std::uint64_t undescribed() const { return undescribed_; }
  std::uint64_t journaled() const { return journaled_; }

 private:
  void value(const std::string& where, const storage::entry_info& e, kj::ArrayPtr<const capnp::word> words,
             const storage::chunk_source& chunks) {
    ++values_;
    // (A struct stored member by member needs its schema as a value stored
    // whole does; a collection's descriptor needs none, its leaves name theirs.)
    const bool needs_schema = e.chunk_roots.empty() || storage::holds_chunked_members(words);
    if (needs_schema && !schemas_.get(e.schema.fingerprint).stored) {
      ++undescribed_;
      return;
    }
    discarding_emitter nothing;
    value_walker walker(nothing, nullptr);
    walk_stored_value(e, words, chunks, schemas_, walker);
    if (walker.problems() > 0) {
      problems_.push_back(where + ", value \"" + e.key + "\": " + walker.first_problem() +
                          (walker.problems() > 1 ? " (and " + std::to_string(walker.problems() - 1) + " more)" : ""));
    }
  }

  storage::snapshot_store& store_;
  schema_library schemas_;
  std::vector<std::string> problems_;
  std::map<std::uint64_t, std::string> key_names_;
  std::uint64_t values_ = 0;
  std::uint64_t undescribed_ = 0;  // values without a stored schema: checksummed, not decoded
  std::uint64_t journaled_ = 0;
};

// Damaged frames a moment later: a writer may be appending one right now,
// so only a frame still damaged then, whose snapshot the store still does
// not have, is.
void keep_lasting_damage(journal_contents& journal, const std::filesystem::path& dir,
                         const storage::snapshot_store& store, const verify_run& run) {
  if (journal.damaged.empty()) return;
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  const std::vector<std::uint64_t> later = store.snapshot_ids();
  const journal_contents again = read_journal(dir, later.empty() ? 0 : later.front(),
                                              [&](std::uint64_t id) { return run.name_of(id); });
  std::erase_if(journal.damaged, [&](const journal_contents::damaged_frame& d) {
    for (const auto& a : again.damaged) {
      if (a.offset == d.offset && a.snapshot_id == d.snapshot_id) return false;
    }
    return true;
  });
}

}  // namespace

int run_verify(const std::filesystem::path& dir) {
  open_read_only(dir);  // the tool's checks and errors first
  const std::uint64_t data_newest = newest_in_data_file(dir);  // (LMDB: before the store is open here)
  auto store = open_read_only(dir);
  verify_run run(*store);
  const std::vector<std::uint64_t> ids = store->snapshot_ids();
  for (std::uint64_t id : ids) {
    if (id <= data_newest) run.snapshot(id);
  }
  if (!ids.empty() && ids.front() > data_newest) run.snapshot(ids.front());

  const std::uint64_t newest = ids.empty() ? 0 : ids.front();
  journal_contents journal = read_journal(dir, newest, [&](std::uint64_t id) { return run.name_of(id); });
  run.frames(journal.frames, data_newest);
  keep_lasting_damage(journal, dir, *store, run);
  for (const auto& d : journal.damaged) {
    std::string keys;
    for (const std::string& k : d.keys) keys += (keys.empty() ? "" : ", ") + ("\"" + k + "\"");
    run.problem("journal.log: the frame of snapshot " + std::to_string(d.snapshot_id) + " at offset " +
                std::to_string(d.offset) + " is damaged: " + d.why + "; the snapshot is lost" +
                (keys.empty() ? std::string(" (its values cannot be named)") : " (it saved " + keys + ")"));
  }

  for (const std::string& p : run.problems()) std::printf("problem: %s\n", p.c_str());
  std::printf("%s: %zu snapshot%s (%llu only in the journal), %llu values", run.problems().empty() ? "ok" : "damaged",
              ids.size(), ids.size() == 1 ? "" : "s", static_cast<unsigned long long>(run.journaled()),
              static_cast<unsigned long long>(run.values()));
  if (run.undescribed()) {
    std::printf(" (%llu without a stored schema: checksums only)", static_cast<unsigned long long>(run.undescribed()));
  }
  std::printf("; %zu problem%s\n", run.problems().size(), run.problems().size() == 1 ? "" : "s");
  return run.problems().empty() ? exit_ok : exit_problems;
}

}  // namespace instadump::cli

// `instadump verify DIR`: reads every kept snapshot as a load would --
// replaying its chain of records, checking every value's checksum and every
// chunk it reaches -- decodes every value under its stored schema, and
// checks the journal. Prints each problem with its snapshot and key; exit
// status 0 only when there is none.
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>

#include "cli_error.h"
#include "commands.h"
#include "journal_check.h"
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

struct verify_run {
  explicit verify_run(storage::snapshot_store& s) : store(s), schemas(s) {}

  storage::snapshot_store& store;
  schema_library schemas;
  std::vector<std::string> problems;
  std::uint64_t values = 0;
  std::uint64_t undescribed = 0;  // values without a stored schema: checksummed, not decoded
  std::map<std::uint64_t, std::string> key_names;

  void snapshot(std::uint64_t id) {
    const std::string where = "snapshot " + std::to_string(id);
    try {
      store.read_snapshot(id, [&](const storage::entry_info& e, kj::ArrayPtr<const capnp::word> words,
                                  const storage::chunk_source& chunks) {
        ++values;
        key_names[e.key_id] = e.key;
        if (e.chunk_roots.empty() && !schemas.get(e.schema.fingerprint).stored) {
          ++undescribed;
          return;
        }
        discarding_emitter nothing;
        value_walker walker(nothing, nullptr);
        walk_stored_value(e, words, chunks, schemas, walker);
        if (walker.problems() > 0) {
          problems.push_back(where + ", value \"" + e.key + "\": " + walker.first_problem() +
                             (walker.problems() > 1 ? " (and " + std::to_string(walker.problems() - 1) + " more)" : ""));
        }
      });
    } catch (const error& e) {
      // A writer running beside verify prunes its oldest snapshots.
      if (pruned_meanwhile(store, id)) return;
      problems.push_back(where + ": " + without_prefix(e.what()));
    }
  }
};

}  // namespace

int run_verify(const std::filesystem::path& dir) {
  auto store = open_read_only(dir);
  verify_run run(*store);
  const std::vector<std::uint64_t> ids = store->snapshot_ids();
  for (std::uint64_t id : ids) run.snapshot(id);

  auto name_of = [&](std::uint64_t key_id) {
    auto it = run.key_names.find(key_id);
    return it == run.key_names.end() ? std::string() : it->second;
  };
  const std::uint64_t newest = ids.empty() ? 0 : ids.front();
  journal_contents journal = read_journal(dir, newest, name_of);
  if (!journal.damaged.empty()) {
    // A writer may be appending the frame right now: only a frame that is
    // still damaged a moment later, and whose snapshot the store still does
    // not have, is.
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    const std::vector<std::uint64_t> later = store->snapshot_ids();
    const journal_contents again = read_journal(dir, later.empty() ? 0 : later.front(), name_of);
    std::erase_if(journal.damaged, [&](const journal_contents::damaged_frame& d) {
      for (const auto& a : again.damaged) {
        if (a.offset == d.offset && a.snapshot_id == d.snapshot_id) return false;
      }
      return true;
    });
  }
  for (const auto& d : journal.damaged) {
    std::string keys;
    for (const std::string& k : d.keys) keys += (keys.empty() ? "" : ", ") + ("\"" + k + "\"");
    run.problems.push_back("journal.log: the frame of snapshot " + std::to_string(d.snapshot_id) + " at offset " +
                           std::to_string(d.offset) + " is damaged: " + d.why + "; the snapshot is lost" +
                           (keys.empty() ? std::string(" (its values cannot be named)")
                                         : " (it saved " + keys + ")"));
  }
  for (const storage::journal_frame& f : journal.frames) {
    if (f.snapshot_id <= newest) continue;
    try {
      storage::decode_journal_entry(kj::arrayPtr(reinterpret_cast<const capnp::word*>(f.payload.data()), f.payload.size()),
                                    "the journal's snapshot " + std::to_string(f.snapshot_id));
    } catch (const error& e) {
      run.problems.push_back("journal.log: " + without_prefix(e.what()));
    }
  }

  for (const std::string& p : run.problems) std::printf("problem: %s\n", p.c_str());
  std::printf("%s: %zu snapshot%s, %llu values", run.problems.empty() ? "ok" : "damaged", ids.size(),
              ids.size() == 1 ? "" : "s", static_cast<unsigned long long>(run.values));
  if (run.undescribed) {
    std::printf(" (%llu without a stored schema: checksums only)", static_cast<unsigned long long>(run.undescribed));
  }
  std::printf(", journal: %s; %zu problem%s\n",
              journal.present ? (std::to_string(journal.frames.size()) + " intact frames").c_str() : "none",
              run.problems.size(), run.problems.size() == 1 ? "" : "s");
  return run.problems.empty() ? exit_ok : exit_problems;
}

}  // namespace instadump::cli

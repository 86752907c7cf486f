// Checking the snapshots a journal holds against data.mdb at open (see
// journal_recovery.h).
#include "storage/journal_recovery.h"

#include <algorithm>
#include <string>
#include <utility>

#include "common/errors.h"
#include "storage/record_io.h"

namespace instadump::storage {

void recover_journaled(std::vector<journal_frame>& frames, const journal_base& base, const std::filesystem::path& dir,
                       const std::filesystem::path& journal_path,
                       const std::function<void(journal_entry&&, std::vector<std::uint64_t>&&)>& keep) {
  const std::string remove_hint =
      "; to open data.mdb as it is, remove " + journal_path.string() + " (the snapshots only it holds are then lost)";
  std::vector<journal_frame*> newer;  // the frames data.mdb does not have yet, by id
  for (journal_frame& f : frames) {
    if (f.snapshot_id > base.newest) newer.push_back(&f);
  }
  std::sort(newer.begin(), newer.end(),
            [](const journal_frame* a, const journal_frame* b) { return a->snapshot_id < b->snapshot_id; });
  std::int64_t base_created = base.newest_created;
  for (std::size_t i = 0; i < newer.size(); ++i) {
    journal_frame& frame = *newer[i];
    if (frame.snapshot_id != base.newest + 1 + i) {
      if (i == 0) {
        throw open_failed("instadump: the journal of the store in " + dir.string() + " holds snapshot " +
                          std::to_string(frame.snapshot_id) + ", but data.mdb's newest snapshot is " +
                          std::to_string(base.newest) + ": data.mdb is not the one this journal was written for" +
                          remove_hint);
      }
      throw open_failed("instadump: the journal of the store in " + dir.string() + " is damaged: it holds " +
                        snapshots_name(frame.snapshot_id, newer.back()->snapshot_id, dir) + ", but not " +
                        "snapshot " + std::to_string(base.newest + 1 + i) + " before them" + remove_hint);
    }
    journal_entry entry;
    try {
      entry = decode_journal_entry(
          kj::arrayPtr(reinterpret_cast<const capnp::word*>(frame.payload.data()), frame.payload.size()),
          "snapshot " + std::to_string(frame.snapshot_id) + " in the journal of " + dir.string());
    } catch (const corrupt_data& e) {
      throw open_failed(std::string(e.what()) + remove_hint);
    }
    // (An unknown creation time of data.mdb's newest snapshot -- its record
    // is damaged -- cannot be compared.)
    const bool base_known = base_created != 0 || entry.base_id == 0;
    if (entry.snapshot_id != frame.snapshot_id || entry.store_created_unix_nanos != base.store_created ||
        (base_known && entry.base_created_unix_nanos != base_created)) {
      throw open_failed("instadump: snapshot " + std::to_string(frame.snapshot_id) + " in the journal of " +
                        dir.string() + " was written for another copy of data.mdb (it was replaced, or restored "
                        "from a backup, after the journal was written)" + remove_hint);
    }
    base_created = entry.created_unix_nanos;
    keep(std::move(entry), std::move(frame.payload));  // (a vector's buffer does not move: entry.blob stays valid)
  }
}

}  // namespace instadump::storage

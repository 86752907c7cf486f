// Recovery at open: the snapshots a writer journaled that data.mdb does not
// have yet (a crash kept them from it), checked against data.mdb before the
// store writes them there. A journal written for another copy of data.mdb
// (replaced, or restored from a backup), or with a snapshot missing, is
// refused with a message that says how to open data.mdb as it is.
//
// Internal to instadump_storage.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <vector>

#include "storage/journal_codec.h"
#include "storage/journal_frame.h"

namespace instadump::storage {

// What the journal must continue: data.mdb's newest snapshot (0: none) and
// its creation time (0: unknown, its record is damaged), and the store's
// creation time (StoreMeta.createdUnixNanos).
struct journal_base {
  std::uint64_t newest = 0;
  std::int64_t newest_created = 0;
  std::int64_t store_created = 0;
};

// Takes from `frames` (as journal_file::read_frames returns them) those of
// snapshots newer than base.newest, and checks that they continue data.mdb:
// consecutive ids from base.newest + 1 on, each entry decoding and written
// on this copy of data.mdb. Calls keep(entry, payload) for each in order as
// soon as it is checked (the entry's blob points into the payload, whose
// buffer keep may move but must keep alive). Throws open_failed naming the
// store in `dir` and what to do (remove `journal_path`) for the first that
// does not.
void recover_journaled(std::vector<journal_frame>& frames, const journal_base& base, const std::filesystem::path& dir,
                       const std::filesystem::path& journal_path,
                       const std::function<void(journal_entry&&, std::vector<std::uint64_t>&&)>& keep);

}  // namespace instadump::storage

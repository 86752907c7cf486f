// `instadump backup DIR DEST`: a consistent, compacted copy of a store,
// live or not, that is itself a store.
//
// How: (1) LMDB's online copy of data.mdb with MDB_CP_COMPACT, in one read
// transaction -- a consistent data.mdb up to some snapshot N, without free
// pages, that never blocks the writer; (2) the snapshots the journal holds
// beyond N: the intact frames of snapshots N+1, N+2, ... (consecutive),
// copied into DEST/journal.log; (3) a writable open of DEST, which writes
// them into the copy's data.mdb exactly as the writer would have (checking
// that they continue it) and leaves the journal empty. Frames that do not
// continue the copy (the writer started its journal over meanwhile, their
// snapshots being in data.mdb after the copy's transaction) are left out:
// the backup is then snapshot N, a whole snapshot at most one journal
// delay older. Re-writing the snapshots through the store's API instead
// would cost a decode and an encode of every value and keep only one
// snapshot; the copy keeps every kept snapshot, bytes and chunks as they are.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "cli_error.h"
#include "commands.h"
#include "journal_check.h"
#include "lmdb_direct.h"
#include "store_access.h"

namespace instadump::cli {
namespace {

// Creates DEST (mode 0700), which must not exist or be an empty directory.
void make_destination(const std::filesystem::path& dest) {
  std::error_code ec;
  if (std::filesystem::exists(dest, ec)) {
    if (!std::filesystem::is_directory(dest) || !std::filesystem::is_empty(dest)) {
      throw cli_error(dest.string() + " exists and is not an empty directory: give a new directory for the backup");
    }
    return;
  }
  if (!std::filesystem::create_directory(dest, ec) || ec) {
    throw cli_error("cannot create " + dest.string() + ": " + ec.message());
  }
  std::filesystem::permissions(dest, std::filesystem::perms::owner_all, ec);
}

// Writes `frames` one after another into DEST/journal.log, in its first
// half: the file is twice their size (rounded up to 16 bytes), so that the
// store finds them all in the first half and nothing in the second.
void write_journal(const std::filesystem::path& dest, const std::vector<const std::vector<std::byte>*>& frames) {
  std::size_t total = 0;
  for (const auto* f : frames) total += f->size();
  const std::size_t half = (total + 15) / 16 * 16;
  const std::filesystem::path path = dest / "journal.log";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw cli_error("cannot create " + path.string());
  bool ok = ::ftruncate(fd, static_cast<off_t>(2 * half)) == 0;
  off_t at = 0;
  for (const auto* f : frames) {
    ok = ok && ::pwrite(fd, f->data(), f->size(), at) == static_cast<ssize_t>(f->size());
    at += static_cast<off_t>(f->size());
  }
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok) throw cli_error("cannot write " + path.string());
}

}  // namespace

int run_backup(const std::filesystem::path& dir, const std::filesystem::path& dest) {
  open_read_only(dir);  // the tool's checks and errors (no such directory, not a store, newer format)
  make_destination(dest);
  copy_compacted(dir, dest);

  // The copy's newest snapshot, then the journal's snapshots after it.
  std::uint64_t newest = 0;
  {
    auto copy = open_read_only(dest);
    const std::vector<std::uint64_t> ids = copy->snapshot_ids();
    if (!ids.empty()) newest = ids.front();
  }
  const journal_contents journal = read_journal(dir, newest, [](std::uint64_t) { return std::string(); });
  std::vector<std::size_t> order(journal.frames.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t x, std::size_t y) { return journal.frames[x].snapshot_id < journal.frames[y].snapshot_id; });
  std::vector<const std::vector<std::byte>*> continuing;
  std::uint64_t next = newest + 1;
  for (std::size_t i : order) {
    if (journal.frames[i].snapshot_id != next) continue;
    continuing.push_back(&journal.frame_bytes[i]);
    ++next;
  }
  if (!continuing.empty()) write_journal(dest, continuing);

  // A writable open replays the journal into the copy and checks it; the
  // close writes everything into data.mdb.
  std::uint64_t snapshots = 0, last = 0;
  try {
    auto store = storage::snapshot_store::open(dest, storage::store_options{});
    const std::vector<std::uint64_t> ids = store->snapshot_ids();
    snapshots = ids.size();
    last = ids.empty() ? 0 : ids.front();
  } catch (const error& e) {
    throw cli_error("the backup in " + dest.string() + " does not open as a store (" + e.what() +
                    "); remove it and run the backup again");
  }
  std::printf("backup of %s in %s: %llu snapshot%s, newest %llu (%zu of them from the journal)\n", dir.c_str(),
              dest.c_str(), static_cast<unsigned long long>(snapshots), snapshots == 1 ? "" : "s",
              static_cast<unsigned long long>(last), continuing.size());
  return 0;
}

}  // namespace instadump::cli

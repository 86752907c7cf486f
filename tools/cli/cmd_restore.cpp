// `instadump restore URL STORE DIR [--snapshot SEQ]`: a local store rebuilt
// from the replicated copy in PostgreSQL (restore_from_copy), as
// setup_options::replicate does for an empty directory. It takes no lease,
// so it runs beside the writer; the copy's snapshots never change once
// committed. Refused, with nothing written: a DIR that is not empty, a
// store the database does not hold, a snapshot the copy does not hold.
#include <cstdio>
#include <string>

#include "cli_error.h"
#include "commands.h"
#include "copy_access.h"
#include "replication/pg_schema.h"
#include "replication/replicated_copy.h"
#include "replication/restore.h"
#include "storage/snapshot_store.h"

namespace instadump::cli {
namespace {

// The refusals, before anything is written.
void check_request(const restore_request& r, const replication::copy_overview& o) {
  std::error_code ec;
  if (std::filesystem::exists(r.dir, ec) &&
      (!std::filesystem::is_directory(r.dir, ec) || !std::filesystem::is_empty(r.dir, ec))) {
    throw cli_error(r.dir.string() + " exists and is not an empty directory: restore into a new directory");
  }
  require_known_store(o, r.store);
  if (o.newest_seq == 0) {
    throw cli_error("replicated store \"" + r.store + "\" has no snapshot yet: nothing to restore");
  }
  if (r.snapshot && (*r.snapshot < o.oldest_seq || *r.snapshot > o.newest_seq)) {
    throw cli_error("replicated store \"" + r.store + "\" has no snapshot " + std::to_string(*r.snapshot) +
                    " (it has " + std::to_string(o.oldest_seq) + " .. " + std::to_string(o.newest_seq) +
                    "; see `instadump replication URL " + r.store + "`)");
  }
}

// Removes what a failed restore created in `dir`, which was missing or
// empty before: an empty store left behind would refuse the next attempt.
void clean_up(const std::filesystem::path& dir, bool existed) {
  std::error_code ec;
  if (!existed) {
    std::filesystem::remove_all(dir, ec);
    return;
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) std::filesystem::remove_all(entry, ec);
}

}  // namespace

int run_restore(const restore_request& r) {
  {  // A copy an earlier build made is read once upgraded (docs/FORMAT.md).
    replication::pg_connection conn(r.url, r.store);
    replication::upgrade_pg_schema_if_older(conn);
  }
  const replication::copy_overview o = replication::read_copy_overview(r.url, r.store);
  check_request(r, o);
  const std::uint64_t seq = r.snapshot.value_or(o.newest_seq);
  const bool existed = std::filesystem::exists(r.dir);
  try {
    replication::replicated_copy copy(r.url, r.store);
    auto local = storage::snapshot_store::open(r.dir, storage::store_options{});
    const std::uint64_t id = replication::restore_from_copy(copy, *local, seq);
    const storage::snapshot_info info = local->newest().value();
    std::printf("restored replicated snapshot %llu of store \"%s\" into %s: local snapshot %llu, %zu values, "
                "%llu bytes\n",
                static_cast<unsigned long long>(seq), r.store.c_str(), r.dir.string().c_str(),
                static_cast<unsigned long long>(id), info.entries.size(),
                static_cast<unsigned long long>(info.total_bytes));
  } catch (...) {
    clean_up(r.dir, existed);
    throw;
  }
  return exit_ok;
}

}  // namespace instadump::cli

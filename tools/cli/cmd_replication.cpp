// `instadump replication URL STORE [DIR]`: what PostgreSQL holds for a
// replicated store -- its newest snapshot and when, how many it keeps, its
// chunks, who holds the writer's lease -- and, given the local directory
// of a writer, how far that one is behind. Reads only (no lease, no tables
// created): safe beside the writer.
#include <cstdio>
#include <string>

#include "cli_error.h"
#include "commands.h"
#include "copy_access.h"
#include "replication/replication_lag.h"
#include "store_access.h"

namespace instadump::cli {
namespace {

std::string u(std::uint64_t v) { return std::to_string(v); }

void print_copy(const std::string& store, const replication::copy_overview& o) {
  std::printf("replicated store \"%s\"\n", store.c_str());
  if (o.newest_seq == 0) {
    std::printf("  newest snapshot:  none yet\n");
  } else {
    std::printf("  newest snapshot:  %s, replicated %s UTC (local snapshot %s of its writer, saved %s; epoch %s)\n",
                u(o.newest_seq).c_str(), o.newest_replicated_at.c_str(), u(o.newest_local_id).c_str(),
                format_time(o.newest_local_created_unix_nanos).c_str(), u(o.newest_epoch).c_str());
  }
  std::printf("  snapshots kept:   %s", u(o.snapshots).c_str());
  if (o.snapshots != 0) std::printf(" (%s .. %s)", u(o.oldest_seq).c_str(), u(o.newest_seq).c_str());
  std::printf("\n  chunks:           %s (%s bytes)\n", u(o.chunks).c_str(), u(o.chunk_bytes).c_str());
  if (o.holder) {
    std::printf("  lease:            held (epoch %s) by PostgreSQL backend %d, client %s, application \"%s\", "
                "connected %s UTC\n",
                u(o.epoch).c_str(), o.holder->pid, o.holder->client.c_str(), o.holder->application_name.c_str(),
                o.holder->since.c_str());
  } else {
    std::printf("  lease:            free (epoch %s): no writer is connected\n", u(o.epoch).c_str());
  }
}

void print_local(const replication_request& r, const replication::copy_overview& o) {
  auto local = open_read_only(*r.dir);
  const std::vector<storage::snapshot_info> kept = local->list_snapshots();  // newest first
  std::printf("local store %s\n", r.dir->string().c_str());
  if (kept.empty()) {
    std::printf("  newest snapshot:  none yet\n");
    return;
  }
  std::printf("  newest snapshot:  %s, saved %s\n", u(kept.front().id).c_str(),
              format_time(kept.front().created_unix_nanos).c_str());
  const std::optional<replication::local_position> at = replication::locate_local(r.url, r.store, kept);
  if (!at) {
    const bool older = o.newest_seq == 0 || kept.back().created_unix_nanos > o.newest_local_created_unix_nanos;
    std::printf("  replicated:       none of its %zu kept snapshots%s\n", kept.size(),
                older ? " (each is newer than the copy's newest: all are behind)"
                      : "; the copy went on under another writer (diverged: restore a new directory from it)");
    if (!older) return;
  } else {
    std::printf("  replicated:       up to local snapshot %s (replicated snapshot %s)\n", u(at->local_id).c_str(),
                u(at->seq).c_str());
  }
  const replication::local_lag lag = replication::lag_after(kept, at ? at->local_id : 0);
  std::printf("  behind:           %s snapshots, %s bytes\n", u(lag.snapshots).c_str(), u(lag.bytes).c_str());
}

}  // namespace

int run_replication(const replication_request& r) {
  const replication::copy_overview o = replication::read_copy_overview(r.url, r.store);
  require_known_store(o, r.store);
  print_copy(r.store, o);
  if (r.dir) print_local(r, o);
  return exit_ok;
}

}  // namespace instadump::cli

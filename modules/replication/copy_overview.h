// What PostgreSQL holds for one replicated store, read without changing
// anything there (no tables created, no store registered, no lease taken):
// for operators -- `instadump replication` and `instadump restore` -- who
// look at the copy beside a running writer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/snapshot_types.h"

namespace instadump::replication {

struct copy_overview {
  // Whether the database has Instadump's tables at all, and a row for the
  // store (a writer registered it).
  bool has_tables = false;
  bool known = false;
  std::vector<std::string> stores;  // every store the database holds, sorted

  std::uint64_t epoch = 0;  // the lease's fencing token: raised by each writer that took it
  std::uint64_t snapshots = 0;  // replicated snapshots kept (the copy drops none)
  std::uint64_t oldest_seq = 0;  // 0: none
  std::uint64_t newest_seq = 0;
  // The newest one: when PostgreSQL committed it (UTC, "YYYY-MM-DD
  // HH:MM:SS.ffffff"), and its writer's epoch, local id and local saving time.
  std::string newest_replicated_at;
  std::uint64_t newest_epoch = 0;
  std::uint64_t newest_local_id = 0;
  std::int64_t newest_local_created_unix_nanos = 0;
  std::uint64_t chunks = 0;  // chunks held, and their bytes
  std::uint64_t chunk_bytes = 0;

  // The connection holding the writer's lease, when one does.
  struct lease_holder {
    int pid = 0;                   // its PostgreSQL backend
    std::string client;            // address:port, or "local" (Unix socket)
    std::string application_name;  // libpq's application_name, often empty
    std::string since;             // when it connected (UTC)
  };
  std::optional<lease_holder> holder;
};

// Reads the overview of `store`. Throws replication_error when PostgreSQL
// cannot be reached or a query fails.
copy_overview read_copy_overview(const std::string& url, const std::string& store);

// The newest of the kept local snapshots `kept` that the copy has: one it
// replicated from that store (the same local id and saving time), or one
// with the same values (keys and checksums) as the copy's newest snapshot
// -- a store restored from the copy, or one whose writer's last save
// changed nothing. nullopt: none of them.
struct local_position {
  std::uint64_t local_id = 0;
  std::uint64_t seq = 0;  // its number in the copy
};
std::optional<local_position> locate_local(const std::string& url, const std::string& store,
                                           const std::vector<storage::snapshot_info>& kept);

}  // namespace instadump::replication

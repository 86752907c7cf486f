// read_copy_overview (copy_overview.h): read-only queries on the copy.
#include "replication/copy_overview.h"

#include <algorithm>
#include <map>

#include "replication/entry_column.h"
#include "replication/pg_connection.h"
#include "replication/pg_schema.h"

namespace instadump::replication {

copy_overview read_copy_overview(const std::string& url, const std::string& store) {
  pg_connection conn(url, store);
  copy_overview o;
  o.has_tables = conn.query("SELECT to_regclass('instadump.stores') IS NOT NULL", {}, "looking for the tables")
                     .boolean(0, 0);
  if (!o.has_tables) return o;
  check_pg_schema_readable(conn);
  pg_result stores = conn.query("SELECT store FROM instadump.stores ORDER BY store", {}, "listing the stores");
  for (int i = 0; i < stores.rows(); ++i) {
    o.stores.emplace_back(stores.text(i, 0));
    o.known = o.known || o.stores.back() == store;
  }
  if (!o.known) return o;

  pg_result s = conn.query(
      "SELECT t.epoch, count(s.seq), coalesce(min(s.seq), 0), coalesce(max(s.seq), 0), "
      "(SELECT count(*) FROM instadump.chunks c WHERE c.store = $1), "
      "(SELECT coalesce(sum(length(c.bytes)), 0)::bigint FROM instadump.chunks c WHERE c.store = $1) "
      "FROM instadump.stores t LEFT JOIN instadump.snapshots s ON s.store = t.store WHERE t.store = $1 "
      "GROUP BY t.epoch",
      pg_params().text(store), "reading the store's snapshots");
  o.epoch = s.u64(0, 0);
  o.snapshots = s.u64(0, 1);
  o.oldest_seq = s.u64(0, 2);
  o.newest_seq = s.u64(0, 3);
  o.chunks = s.u64(0, 4);
  o.chunk_bytes = s.u64(0, 5);
  if (o.newest_seq != 0) {
    pg_result n = conn.query(
        "SELECT to_char(replicated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), epoch, local_id, "
        "local_created_unix_nanos FROM instadump.snapshots WHERE store = $1 AND seq = $2",
        pg_params().text(store).u64(o.newest_seq), "reading the newest replicated snapshot");
    o.newest_replicated_at = n.text(0, 0);
    o.newest_epoch = n.u64(0, 1);
    o.newest_local_id = n.u64(0, 2);
    o.newest_local_created_unix_nanos = n.i64(0, 3);
  }

  // The lease is a session-level advisory lock on a 64-bit key, which
  // pg_locks shows as its two 32-bit halves (objsubid 1).
  pg_result h = conn.query(
      "WITH k AS (SELECT hashtextextended('instadump:store:' || $1, 0) AS key) "
      "SELECT a.pid, coalesce(host(a.client_addr) || ':' || a.client_port, 'local'), "
      "coalesce(a.application_name, ''), "
      "coalesce(to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), '') "
      "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid, k "
      "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
      "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
      "AND l.classid::bigint = ((k.key >> 32) & 4294967295) AND l.objid::bigint = (k.key & 4294967295)",
      pg_params().text(store), "looking for the holder of the writer's lease");
  if (h.rows() != 0) {
    o.holder = copy_overview::lease_holder{h.i32(0, 0), std::string(h.text(0, 1)), std::string(h.text(0, 2)),
                                           std::string(h.text(0, 3))};
  }
  return o;
}

std::optional<local_position> locate_local(const std::string& url, const std::string& store,
                                           const std::vector<storage::snapshot_info>& kept) {
  if (kept.empty()) return std::nullopt;
  pg_connection conn(url, store);
  // By local id and saving time: one query over the kept ones.
  std::string pairs;
  pg_params p;
  p.text(store);
  for (const auto& snap : kept) {
    pairs += (pairs.empty() ? "($" : ",($") + std::to_string(p.size() + 1) + "::bigint,$" +
             std::to_string(p.size() + 2) + "::bigint)";
    p.u64(snap.id).i64(snap.created_unix_nanos);
  }
  pg_result by_id = conn.query("SELECT local_id, seq FROM instadump.snapshots WHERE store = $1 AND "
                               "(local_id, local_created_unix_nanos) IN (VALUES " + pairs + ") "
                               "ORDER BY seq DESC LIMIT 1",
                               p, "looking for the local snapshots in the copy");
  std::optional<local_position> found;
  if (by_id.rows() != 0) found = local_position{by_id.u64(0, 0), by_id.u64(0, 1)};

  // By values, against the copy's newest.
  pg_result values = conn.query(
      "SELECT t.newest, e.key, e.seq, " + entry_head_sql("e.entry") + ", length(e.entry) FROM instadump.stores t "
      "LEFT JOIN LATERAL ("
      "  SELECT key, seq, entry FROM ("
      "    SELECT DISTINCT ON (key) key, seq, entry FROM instadump.entries "
      "    WHERE store_id = t.id AND seq <= t.newest ORDER BY key, seq DESC) d WHERE entry <> '\\x01'::bytea"
      ") e ON true WHERE t.store = $1",
      pg_params().text(store), "reading the values of the newest replicated snapshot");
  if (values.rows() == 0 || values.u64(0, 0) == 0) return found;
  std::map<std::string, std::uint64_t, std::less<>> newest;
  for (int i = 0; i < values.rows(); ++i) {
    if (values.is_null(i, 1)) continue;
    const std::string key(values.text(i, 1));
    read_entry e = decode_entry_head(values.bytes(i, 3), values.i32(i, 4),
                                     "key \"" + key + "\" of snapshot " + std::to_string(values.u64(i, 2)) +
                                         " of store \"" + store + "\"");
    newest.emplace(key, e.entry.checksum);
  }
  for (const auto& snap : kept) {  // any order: the newest match wins
    if (found && snap.id <= found->local_id) continue;
    bool same = snap.entries.size() == newest.size();
    for (const auto& e : snap.entries) {
      auto it = same ? newest.find(e.key) : newest.end();
      same = same && it != newest.end() && it->second == e.checksum;
    }
    if (same) found = local_position{snap.id, values.u64(0, 0)};
  }
  return found;
}

}  // namespace instadump::replication

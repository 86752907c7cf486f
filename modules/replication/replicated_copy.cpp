// replicated_copy (replicated_copy.h): the store's rows in PostgreSQL.
#include "replication/replicated_copy.h"

#include <bit>
#include <cstring>
#include <utility>

#include "common/errors.h"
#include "replication/pg_schema.h"

namespace instadump::replication {
namespace {

// Rows per INSERT: well under PostgreSQL's 65535 parameters per statement.
constexpr std::size_t kRowsPerInsert = 500;

// "($1,$2,...,$n)" for the row starting after parameter `first`.
std::string row_placeholders(std::size_t first, std::size_t columns) {
  std::string s = "(";
  for (std::size_t c = 1; c <= columns; ++c) s += (c > 1 ? ",$" : "$") + std::to_string(first + c);
  return s + ")";
}

// Runs "INSERT <head> VALUES (...),(...) <tail>" over `rows` in batches;
// add(params, i) adds row i's `columns` parameters.
void insert_rows(pg_connection& conn, const std::string& head, const std::string& tail, std::size_t rows,
                 std::size_t columns, const std::function<void(pg_params&, std::size_t)>& add, const char* doing) {
  for (std::size_t start = 0; start < rows; start += kRowsPerInsert) {
    const std::size_t end = std::min(rows, start + kRowsPerInsert);
    std::string sql = "INSERT INTO " + head + " VALUES ";
    pg_params p;
    for (std::size_t i = start; i < end; ++i) {
      sql += (i > start ? "," : "") + row_placeholders(p.size(), columns);
      add(p, i);
    }
    conn.query(sql + " " + tail, p, doing);
  }
}

// Inserts `chunks`, each unless the copy holds its id already, and throws
// replication_error when it holds one of them with other bytes. (The join
// reads the table as it was before the insert: it sees only the chunks the
// copy held already.)
void insert_chunks_once(pg_connection& conn, const std::string& store,
                        std::span<const outgoing_snapshot::chunk> chunks, std::uint64_t local_id) {
  for (std::size_t start = 0; start < chunks.size(); start += kRowsPerInsert) {
    const std::size_t end = std::min(chunks.size(), start + kRowsPerInsert);
    std::string rows;
    pg_params p;
    p.text(store);
    for (std::size_t i = start; i < end; ++i) {
      const std::string id = "$" + std::to_string(p.size() + 1);
      const std::string bytes = "$" + std::to_string(p.size() + 2);
      rows += (i > start ? ",(" : "(") + id + "::bigint," + bytes + "::bytea)";
      p.u64(chunks[i].id).bytes(chunks[i].bytes);
    }
    pg_result clash = conn.query(
        "WITH incoming (id, bytes) AS (VALUES " + rows + "), "
        "added AS (INSERT INTO instadump.chunks (store, id, bytes) SELECT $1, id, bytes FROM incoming "
        "ON CONFLICT DO NOTHING) "
        "SELECT i.id FROM incoming i JOIN instadump.chunks c ON c.store = $1 AND c.id = i.id "
        "WHERE c.bytes <> i.bytes ORDER BY i.id LIMIT 1",
        p, "writing the snapshot's chunks");
    if (clash.rows() != 0) {
      throw replication_error(
          "instadump replication of store \"" + store + "\": chunk " + std::to_string(clash.u64(0, 0)) +
          " of local snapshot " + std::to_string(local_id) + " has other bytes than the chunk the copy holds under "
          "that id. Chunk ids are never reused, so this local store hands out ids the copy used before (was it "
          "restored from the copy by an older build?); nothing of the snapshot was replicated. Restore an empty "
          "directory from the copy (instadump restore) and go on from it");
    }
  }
}

}  // namespace

std::vector<std::byte> pack_ids(std::span<const std::uint64_t> ids) {
  std::vector<std::byte> out(ids.size() * 8);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    std::uint64_t v = ids[i];
    if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
    std::memcpy(out.data() + 8 * i, &v, 8);
  }
  return out;
}

std::vector<std::uint64_t> unpack_ids(std::span<const std::byte> bytes) {
  std::vector<std::uint64_t> out(bytes.size() / 8);
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::memcpy(&out[i], bytes.data() + 8 * i, 8);
    if constexpr (std::endian::native == std::endian::big) out[i] = __builtin_bswap64(out[i]);
  }
  return out;
}

std::uint64_t outgoing_snapshot::new_bytes() const {
  std::uint64_t n = 0;
  for (const auto& p : puts) n += p.bytes.size();
  for (const auto& c : chunks) n += c.bytes.size();
  return n;
}

replicated_copy::replicated_copy(const std::string& url, std::string store)
    : store_(std::move(store)), conn_(url, store_) {
  ensure_pg_schema(conn_);
  conn_.query("INSERT INTO instadump.stores (store) VALUES ($1) ON CONFLICT DO NOTHING", pg_params().text(store_),
              "registering the store");
}

replicated_copy::replicated_copy(const std::string& url, std::string store, read_only_t)
    : store_(std::move(store)), conn_(url, store_) {
  conn_.run("SET default_transaction_read_only = on", "making the reader's connection read-only");
  pg_result has = conn_.query("SELECT to_regclass('instadump.stores') IS NOT NULL", {}, "looking for the tables");
  if (!has.boolean(0, 0)) {
    throw replication_error("instadump replication of store \"" + store_ + "\": the database holds no replicated "
                            "copy (no tables in schema \"instadump\"): start the writer (setup with the same "
                            "replicate.url) first, or check the url");
  }
}

bool replicated_copy::try_take_lease() {
  pg_result r = conn_.query("SELECT pg_try_advisory_lock(hashtextextended('instadump:store:' || $1, 0))",
                            pg_params().text(store_), "trying to take the writer's lease");
  if (!r.boolean(0, 0)) return false;
  epoch_ = raise_epoch();
  return true;
}

void replicated_copy::take_lease_waiting() {
  conn_.query("SELECT pg_advisory_lock(hashtextextended('instadump:store:' || $1, 0))", pg_params().text(store_),
              "waiting for the writer's lease");
  epoch_ = raise_epoch();
}

std::uint64_t replicated_copy::raise_epoch() {
  pg_result r = conn_.query("UPDATE instadump.stores SET epoch = epoch + 1 WHERE store = $1 RETURNING epoch",
                            pg_params().text(store_), "raising the lease's epoch");
  return r.u64(0, 0);
}

void replicated_copy::resume_lease(std::uint64_t epoch) {
  pg_result r = conn_.query("SELECT pg_try_advisory_lock(hashtextextended('instadump:store:' || $1, 0)), "
                            "(SELECT epoch FROM instadump.stores WHERE store = $1)",
                            pg_params().text(store_), "taking the writer's lease again");
  const bool locked = r.boolean(0, 0);
  const std::uint64_t now = r.u64(0, 1);
  if (!locked || now != epoch) {
    throw lease_lost("instadump replication of store \"" + store_ + "\": this writer (epoch " +
                     std::to_string(epoch) + ") lost its lease: " +
                     (now != epoch ? "another instance took over (epoch " + std::to_string(now) + ")"
                                   : std::string("another instance holds it")) +
                     ". Nothing more is replicated from here: shut this instance down");
  }
  epoch_ = epoch;
}

std::optional<copy_head> replicated_copy::head() {
  pg_result r = conn_.query(
      "SELECT s.seq, s.epoch, s.local_id, s.local_created_unix_nanos FROM instadump.stores t "
      "JOIN instadump.snapshots s ON s.store = t.store AND s.seq = t.newest WHERE t.store = $1",
      pg_params().text(store_), "reading the newest replicated snapshot");
  if (r.rows() == 0) return std::nullopt;
  return copy_head{r.u64(0, 0), r.u64(0, 1), r.u64(0, 2), r.i64(0, 3)};
}

copy_entries replicated_copy::entries_at(std::uint64_t seq) {
  pg_result r = conn_.query(
      "SELECT key, fingerprint, schema_version, framed, checksum, length(bytes)::bigint, chunk_roots FROM ("
      "  SELECT DISTINCT ON (key) * FROM instadump.entries WHERE store = $1 AND seq <= $2 ORDER BY key, seq DESC"
      ") e WHERE NOT removed",
      pg_params().text(store_).u64(seq), "reading the replicated snapshot's values");
  copy_entries out;
  for (int i = 0; i < r.rows(); ++i) {
    copy_entry e{{r.u64(i, 1), static_cast<std::uint32_t>(r.i32(i, 2))}, r.u64(i, 4), r.u64(i, 5),
                 r.boolean(i, 3), unpack_ids(r.bytes(i, 6))};
    out.emplace(std::string(r.text(i, 0)), std::move(e));
  }
  return out;
}

std::unordered_set<std::uint64_t> replicated_copy::chunk_ids() {
  pg_result r = conn_.query("SELECT id FROM instadump.chunks WHERE store = $1", pg_params().text(store_),
                            "listing the replicated chunks");
  std::unordered_set<std::uint64_t> out;
  for (int i = 0; i < r.rows(); ++i) out.insert(r.u64(i, 0));
  return out;
}

std::uint64_t replicated_copy::next_chunk_id() {
  pg_result r = conn_.query("SELECT max(id) FROM instadump.chunks WHERE store = $1", pg_params().text(store_),
                            "reading the largest replicated chunk id");
  return r.is_null(0, 0) ? 1 : r.u64(0, 0) + 1;
}

std::unordered_set<std::uint64_t> replicated_copy::schema_fingerprints() {
  pg_result r = conn_.query("SELECT fingerprint FROM instadump.schemas WHERE store = $1", pg_params().text(store_),
                            "listing the replicated schemas");
  std::unordered_set<std::uint64_t> out;
  for (int i = 0; i < r.rows(); ++i) out.insert(r.u64(i, 0));
  return out;
}

void replicated_copy::rollback_quietly() {
  try {
    if (conn_.ok()) conn_.run("ROLLBACK", "rolling back");
  } catch (...) {
  }
}

std::uint64_t replicated_copy::write(const outgoing_snapshot& s) {
  conn_.run("BEGIN", "starting the snapshot's transaction");
  try {
    // The fence: the newest snapshot moves on only under our epoch (the row
    // lock also orders this write after any other on the store).
    pg_result moved = conn_.query(
        "UPDATE instadump.stores SET newest = newest + 1 WHERE store = $1 AND epoch = $2 RETURNING newest",
        pg_params().text(store_).u64(epoch_), "moving the store's newest snapshot (fenced by the epoch)");
    if (moved.rows() == 0) {
      pg_result now = conn_.query("SELECT epoch FROM instadump.stores WHERE store = $1", pg_params().text(store_),
                                  "reading the lease's epoch");
      throw lease_lost("instadump replication of store \"" + store_ + "\": this writer (epoch " +
                       std::to_string(epoch_) + ") lost its lease: another instance took over (epoch " +
                       std::to_string(now.u64(0, 0)) + "); local snapshot " + std::to_string(s.local_id) +
                       " was not replicated, and nothing more will be from here: shut this instance down");
    }
    const std::uint64_t seq = moved.u64(0, 0);
    conn_.query("INSERT INTO instadump.snapshots (store, seq, epoch, local_id, local_created_unix_nanos, "
                "total_bytes) VALUES ($1, $2, $3, $4, $5, $6)",
                pg_params().text(store_).u64(seq).u64(epoch_).u64(s.local_id).i64(s.local_created_unix_nanos)
                    .u64(s.total_bytes),
                "recording the snapshot");
    std::vector<std::vector<std::byte>> roots(s.puts.size());
    for (std::size_t i = 0; i < s.puts.size(); ++i) roots[i] = pack_ids(s.puts[i].entry.chunk_roots);
    const std::size_t rows = s.puts.size() + s.removed.size();
    insert_rows(
        conn_, "instadump.entries (store, key, seq, removed, fingerprint, schema_version, framed, checksum, "
               "chunk_roots, bytes)", "", rows, 10,
        [&](pg_params& p, std::size_t i) {
          p.text(store_);
          if (i < s.puts.size()) {
            const auto& put = s.puts[i];
            p.text(put.key).u64(seq).boolean(false).u64(put.entry.schema.fingerprint)
                .i32(static_cast<std::int32_t>(put.entry.schema.version)).boolean(put.entry.framed)
                .u64(put.entry.checksum).bytes(roots[i]).bytes(put.bytes);
          } else {
            p.text(s.removed[i - s.puts.size()]).u64(seq).boolean(true).u64(0).i32(0).boolean(false).u64(0)
                .bytes({}).bytes({});
          }
        },
        "writing the snapshot's values");
    // Chunks and schemas are shipped once: one the copy holds already (a
    // retried snapshot's, or one a restored writer ships again) stays -- a
    // chunk only with the same bytes. (A schema's bytes describe the
    // fingerprint they are stored under; a newer build may describe it in
    // more words, which is no conflict.)
    insert_chunks_once(conn_, store_, s.chunks, s.local_id);
    insert_rows(conn_, "instadump.schemas (store, fingerprint, bytes)", "ON CONFLICT DO NOTHING", s.schemas.size(),
                3,
                [&](pg_params& p, std::size_t i) {
                  p.text(store_).u64(s.schemas[i].fingerprint).bytes(s.schemas[i].bytes);
                },
                "writing the snapshot's schemas");
    // Readers following the copy (LISTEN instadump) wake up.
    conn_.query("SELECT pg_notify('instadump', $1)", pg_params().text(store_), "notifying readers");
    conn_.run("COMMIT", "committing the snapshot");
    return seq;
  } catch (...) {
    rollback_quietly();
    throw;
  }
}

void replicated_copy::read_values(
    std::uint64_t seq,
    const std::function<void(std::string_view, const copy_entry&, std::span<const std::byte>)>& visit) {
  pg_result r = conn_.query(
      "SELECT key, fingerprint, schema_version, framed, checksum, chunk_roots, bytes FROM ("
      "  SELECT DISTINCT ON (key) * FROM instadump.entries WHERE store = $1 AND seq <= $2 ORDER BY key, seq DESC"
      ") e WHERE NOT removed",
      pg_params().text(store_).u64(seq), "reading the replicated snapshot");
  for (int i = 0; i < r.rows(); ++i) {
    std::span<const std::byte> bytes = r.bytes(i, 6);
    copy_entry e{{r.u64(i, 1), static_cast<std::uint32_t>(r.i32(i, 2))}, r.u64(i, 4), bytes.size(),
                 r.boolean(i, 3), unpack_ids(r.bytes(i, 5))};
    visit(r.text(i, 0), e, bytes);
  }
}

bool replicated_copy::read_changes(
    std::uint64_t seq,
    const std::function<void(std::string_view, const copy_entry&, std::span<const std::byte>)>& put,
    const std::function<void(std::string_view)>& removed) {
  // (The snapshot's row joined: a snapshot that changed nothing has one
  // row of nulls, one that is not there has none.)
  pg_result r = conn_.query(
      "SELECT e.key, e.removed, e.fingerprint, e.schema_version, e.framed, e.checksum, e.chunk_roots, e.bytes "
      "FROM instadump.snapshots s LEFT JOIN instadump.entries e ON e.store = s.store AND e.seq = s.seq "
      "WHERE s.store = $1 AND s.seq = $2",
      pg_params().text(store_).u64(seq), "reading what the replicated snapshot changed");
  for (int i = 0; i < r.rows(); ++i) {
    if (r.is_null(i, 0)) continue;
    if (r.boolean(i, 1)) {
      removed(r.text(i, 0));
      continue;
    }
    std::span<const std::byte> bytes = r.bytes(i, 7);
    copy_entry e{{r.u64(i, 2), static_cast<std::uint32_t>(r.i32(i, 3))}, r.u64(i, 5), bytes.size(),
                 r.boolean(i, 4), unpack_ids(r.bytes(i, 6))};
    put(r.text(i, 0), e, bytes);
  }
  return r.rows() > 0;
}

void replicated_copy::read_chunks(std::span<const std::uint64_t> ids,
                                  const std::function<void(std::uint64_t, std::span<const std::byte>)>& visit) {
  for (std::size_t start = 0; start < ids.size(); start += kRowsPerInsert) {
    const std::size_t end = std::min(ids.size(), start + kRowsPerInsert);
    std::string list;
    pg_params p;
    p.text(store_);
    for (std::size_t i = start; i < end; ++i) {
      list += (i > start ? ",$" : "$") + std::to_string(p.size() + 1);
      p.u64(ids[i]);
    }
    pg_result r = conn_.query("SELECT id, bytes FROM instadump.chunks WHERE store = $1 AND id IN (" + list + ")", p,
                              "reading replicated chunks");
    for (int i = 0; i < r.rows(); ++i) visit(r.u64(i, 0), r.bytes(i, 1));
  }
}

std::vector<storage::schema_record> replicated_copy::read_schemas(std::span<const std::uint64_t> fingerprints) {
  std::vector<storage::schema_record> out;
  for (std::uint64_t fp : fingerprints) {
    pg_result r = conn_.query("SELECT bytes FROM instadump.schemas WHERE store = $1 AND fingerprint = $2",
                              pg_params().text(store_).u64(fp), "reading a replicated schema");
    if (r.rows() == 0) continue;
    auto b = r.bytes(0, 0);
    out.push_back(storage::schema_record{fp, std::vector<std::byte>(b.begin(), b.end())});
  }
  return out;
}

}  // namespace instadump::replication

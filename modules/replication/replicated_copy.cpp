// replicated_copy (replicated_copy.h): the store's rows in PostgreSQL.
#include "replication/replicated_copy.h"

#include <utility>

#include "common/errors.h"
#include "replication/entry_column.h"
#include "replication/pg_schema.h"

namespace instadump::replication {
namespace {

// The rows of a snapshot cross as arrays, one per column (pg_array.h),
// unnested by the server: one statement and a fixed number of parameters
// however many rows.

// Inserts `chunks`, each unless the copy holds its id already, and throws
// replication_error when it holds one of them with other bytes. (The join
// reads the table as it was before the insert: it sees only the chunks the
// copy held already.)
void insert_chunks_once(pg_connection& conn, const std::string& store,
                        std::span<const outgoing_snapshot::chunk> chunks, std::uint64_t local_id) {
  if (chunks.empty()) return;
  pg_array ids(pg_array::element::int8), bytes(pg_array::element::bytea);
  for (const auto& c : chunks) {
    ids.u64(c.id);
    bytes.bytes(c.bytes);
  }
  pg_result clash = conn.query(
      "WITH incoming AS (SELECT * FROM unnest($2::bigint[], $3::bytea[]) AS i(id, bytes)), "
      "added AS (INSERT INTO instadump.chunks (store, id, bytes) SELECT $1, id, bytes FROM incoming "
      "ON CONFLICT DO NOTHING) "
      "SELECT i.id FROM incoming i JOIN instadump.chunks c ON c.store = $1 AND c.id = i.id "
      "WHERE c.bytes <> i.bytes ORDER BY i.id LIMIT 1",
      pg_params().text(store).array(ids).array(bytes), "writing the snapshot's chunks");
  if (clash.rows() != 0) {
    throw replication_error(
        "instadump replication of store \"" + store + "\": chunk " + std::to_string(clash.u64(0, 0)) +
        " of local snapshot " + std::to_string(local_id) + " has other bytes than the chunk the copy holds under "
        "that id. Chunk ids are never reused, so this local store hands out ids the copy used before (was it "
        "restored from the copy by an older build?); nothing of the snapshot was replicated. Restore an empty "
        "directory from the copy (instadump restore) and go on from it");
  }
}

void insert_schemas_once(pg_connection& conn, const std::string& store,
                         std::span<const storage::schema_record> schemas) {
  if (schemas.empty()) return;
  pg_array fingerprints(pg_array::element::int8), bytes(pg_array::element::bytea);
  for (const auto& r : schemas) {
    fingerprints.u64(r.fingerprint);
    bytes.bytes(r.bytes);
  }
  conn.query("INSERT INTO instadump.schemas (store, fingerprint, bytes) "
             "SELECT $1, fingerprint, bytes FROM unnest($2::bigint[], $3::bytea[]) AS s(fingerprint, bytes) "
             "ON CONFLICT DO NOTHING",
             pg_params().text(store).array(fingerprints).array(bytes), "writing the snapshot's schemas");
}

// A snapshot's entries rows, as two arrays: keys, and entries
// (entry_column.h) built in place.
struct entry_columns {
  pg_array key{pg_array::element::text}, entry{pg_array::element::bytea};

  explicit entry_columns(const outgoing_snapshot& s) {
    for (const auto& put : s.puts) {
      key.text(put.key);
      write_entry(entry.bytes_slot(entry_bytes(put.entry, put.bytes.size())), put.entry, put.bytes);
    }
    for (const auto& k : s.removed) {
      key.text(k);
      entry.bytes({&kRemovedEntry, 1});
    }
  }
  pg_params& add_to(pg_params& p) const { return p.array(key).array(entry); }
};

// One statement: the fence (the store's newest snapshot moves on only under
// the writer's epoch; the row lock also orders this write after any other on
// the store), the snapshot's row, its entries, and the notification of
// readers following the copy (LISTEN instadump; sent at commit). Returns the
// new seq in its one row, or no row -- and changes nothing -- when the epoch
// is no longer the writer's.
constexpr const char* kWriteSnapshot =
    "WITH moved AS ("
    "  UPDATE instadump.stores SET newest = newest + 1 WHERE store = $1 AND epoch = $2 RETURNING newest, id), "
    "snapshot AS ("
    "  INSERT INTO instadump.snapshots (store, seq, epoch, local_id, local_created_unix_nanos, total_bytes) "
    "  SELECT $1, newest, $2, $3, $4, $5 FROM moved RETURNING seq), "
    "written AS ("
    "  INSERT INTO instadump.entries (store_id, seq, key, entry) "
    "  SELECT moved.id, moved.newest, e.key, e.entry FROM moved, unnest($6::text[], $7::bytea[]) AS e(key, entry)) "
    "SELECT seq FROM snapshot, pg_notify('instadump', $1)";

// The store's entries rows (by its number, looked up by name).
constexpr const char* kStoreEntries =
    "instadump.entries WHERE store_id = (SELECT id FROM instadump.stores WHERE store = $1)";

// Names an entries row in errors.
std::string entry_row(const std::string& store, std::string_view key, std::uint64_t seq) {
  return "key \"" + std::string(key) + "\" of snapshot " + std::to_string(seq) + " of store \"" + store + "\"";
}

}  // namespace

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
  check_pg_schema_readable(conn_);
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
      "SELECT key, seq, " + entry_head_sql("entry") + ", length(entry) FROM (SELECT DISTINCT ON (key) key, "
                  "seq, entry FROM " +
          kStoreEntries + " AND seq <= $2 ORDER BY key, seq DESC) e WHERE entry <> '\\x01'::bytea",
      pg_params().text(store_).u64(seq), "reading the replicated snapshot's values");
  copy_entries out;
  for (int i = 0; i < r.rows(); ++i) {
    read_entry e = decode_entry_head(r.bytes(i, 2), r.i32(i, 3), entry_row(store_, r.text(i, 0), r.u64(i, 1)));
    out.emplace(std::string(r.text(i, 0)), std::move(e.entry));
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

std::uint64_t replicated_copy::write(const outgoing_snapshot& s, const std::function<void()>& before_commit) {
  const entry_columns columns(s);
  pg_params p;
  p.text(store_).u64(epoch_).u64(s.local_id).i64(s.local_created_unix_nanos).u64(s.total_bytes);
  columns.add_to(p);
  // With work to do before committing, BEGIN goes out with the statement
  // (begin_and_send). Otherwise, without chunks or schemas, the snapshot is
  // that one statement, which is its own transaction: one round trip and
  // one commit.
  const bool overlapped = static_cast<bool>(before_commit);
  const bool alone = !overlapped && s.chunks.empty() && s.schemas.empty();
  if (!alone && !overlapped) conn_.run("BEGIN", "starting the snapshot's transaction");
  try {
    constexpr const char* kWriting = "writing the snapshot (fenced by the epoch)";
    pg_result moved = [&] {
      if (!overlapped) return conn_.query_prepared("instadump_write_snapshot", kWriteSnapshot, p, kWriting);
      // The server runs the statement while before_commit() runs here.
      conn_.begin_and_send("instadump_write_snapshot", kWriteSnapshot, p, kWriting);
      try {
        before_commit();
      } catch (...) {
        conn_.discard();
        throw;
      }
      return conn_.receive(kWriting);
    }();
    if (moved.rows() == 0) {
      if (!alone) rollback_quietly();
      pg_result now = conn_.query("SELECT epoch FROM instadump.stores WHERE store = $1", pg_params().text(store_),
                                  "reading the lease's epoch");
      throw lease_lost("instadump replication of store \"" + store_ + "\": this writer (epoch " +
                       std::to_string(epoch_) + ") lost its lease: another instance took over (epoch " +
                       std::to_string(now.u64(0, 0)) + "); local snapshot " + std::to_string(s.local_id) +
                       " was not replicated, and nothing more will be from here: shut this instance down");
    }
    const std::uint64_t seq = moved.u64(0, 0);
    if (alone) return seq;
    // Chunks and schemas are shipped once: one the copy holds already (a
    // retried snapshot's, or one a restored writer ships again) stays -- a
    // chunk only with the same bytes. (A schema's bytes describe the
    // fingerprint they are stored under; a newer build may describe it in
    // more words, which is no conflict.)
    insert_chunks_once(conn_, store_, s.chunks, s.local_id);
    insert_schemas_once(conn_, store_, s.schemas);
    conn_.run("COMMIT", "committing the snapshot");
    return seq;
  } catch (const lease_lost&) {
    throw;
  } catch (...) {
    if (!alone) rollback_quietly();
    throw;
  }
}

void replicated_copy::read_values(
    std::uint64_t seq,
    const std::function<void(std::string_view, const copy_entry&, std::span<const std::byte>)>& visit) {
  pg_result r = conn_.query(
      std::string("SELECT key, seq, entry FROM (SELECT DISTINCT ON (key) key, seq, entry FROM ") + kStoreEntries +
          " AND seq <= $2 ORDER BY key, seq DESC) e WHERE entry <> '\\x01'::bytea",
      pg_params().text(store_).u64(seq), "reading the replicated snapshot");
  for (int i = 0; i < r.rows(); ++i) {
    read_entry e = decode_entry(r.bytes(i, 2), entry_row(store_, r.text(i, 0), r.u64(i, 1)));
    visit(r.text(i, 0), e.entry, e.bytes);
  }
}

bool replicated_copy::read_changes(
    std::uint64_t seq,
    const std::function<void(std::string_view, const copy_entry&, std::span<const std::byte>)>& put,
    const std::function<void(std::string_view)>& removed) {
  // (The snapshot's row joined: a snapshot that changed nothing has one
  // row of nulls, one that is not there has none.)
  pg_result r = conn_.query(
      "SELECT e.key, e.entry FROM instadump.stores t JOIN instadump.snapshots s ON s.store = t.store "
      "LEFT JOIN instadump.entries e ON e.store_id = t.id AND e.seq = s.seq WHERE t.store = $1 AND s.seq = $2",
      pg_params().text(store_).u64(seq), "reading what the replicated snapshot changed");
  for (int i = 0; i < r.rows(); ++i) {
    if (r.is_null(i, 0)) continue;
    read_entry e = decode_entry(r.bytes(i, 1), entry_row(store_, r.text(i, 0), seq));
    if (e.removed) {
      removed(r.text(i, 0));
    } else {
      put(r.text(i, 0), e.entry, e.bytes);
    }
  }
  return r.rows() > 0;
}

void replicated_copy::read_chunks(std::span<const std::uint64_t> ids,
                                  const std::function<void(std::uint64_t, std::span<const std::byte>)>& visit) {
  if (ids.empty()) return;
  pg_array wanted(pg_array::element::int8);
  for (std::uint64_t id : ids) wanted.u64(id);
  pg_result r = conn_.query("SELECT id, bytes FROM instadump.chunks WHERE store = $1 AND id = ANY($2::bigint[])",
                            pg_params().text(store_).array(wanted), "reading replicated chunks");
  for (int i = 0; i < r.rows(); ++i) visit(r.u64(i, 0), r.bytes(i, 1));
}

std::vector<storage::schema_record> replicated_copy::read_schemas(std::span<const std::uint64_t> fingerprints) {
  std::vector<storage::schema_record> out;
  if (fingerprints.empty()) return out;
  pg_array wanted(pg_array::element::int8);
  for (std::uint64_t fp : fingerprints) wanted.u64(fp);
  pg_result r = conn_.query(
      "SELECT fingerprint, bytes FROM instadump.schemas WHERE store = $1 AND fingerprint = ANY($2::bigint[])",
      pg_params().text(store_).array(wanted), "reading replicated schemas");
  for (int i = 0; i < r.rows(); ++i) {
    auto b = r.bytes(i, 1);
    out.push_back(storage::schema_record{r.u64(i, 0), std::vector<std::byte>(b.begin(), b.end())});
  }
  return out;
}

}  // namespace instadump::replication

// ensure_pg_schema (pg_schema.h): the replicated copy's tables, version 1.
//
// 64-bit unsigned numbers (snapshot ids, checksums, fingerprints, chunk ids)
// are stored in bigint as their two's-complement bit pattern.
#include "replication/pg_schema.h"

#include <string>

#include "common/errors.h"
#include "replication/pg_connection.h"

namespace instadump::replication {
namespace {

constexpr const char* kVersion1 = R"sql(
CREATE TABLE instadump.format (
  version int NOT NULL
);
-- One row per replicated store: its lease (fencing) epoch and its newest
-- replicated snapshot.
CREATE TABLE instadump.stores (
  store  text PRIMARY KEY,
  epoch  bigint NOT NULL DEFAULT 0,
  newest bigint NOT NULL DEFAULT 0
);
-- One row per replicated snapshot, numbered 1, 2, ... per store.
CREATE TABLE instadump.snapshots (
  store                    text   NOT NULL REFERENCES instadump.stores,
  seq                      bigint NOT NULL,
  epoch                    bigint NOT NULL,
  local_id                 bigint NOT NULL,
  local_created_unix_nanos bigint NOT NULL,
  replicated_at            timestamptz NOT NULL DEFAULT now(),
  total_bytes              bigint NOT NULL,
  PRIMARY KEY (store, seq)
);
-- What changed in each snapshot: a value under `key` from snapshot `seq` on
-- (with its bytes), or, with removed, no value from `seq` on. (No foreign
-- key to snapshots: rows are written only with their snapshot's row, in
-- its transaction, and a key checked per row cost more than the rows.)
-- Keyed by seq first: a snapshot's rows go to the right edge of the one
-- index, next to each other, where a key-first index took one page per
-- key (most of a sync save's time in PostgreSQL); it also serves
-- following the copy snapshot by snapshot. Tables created by earlier
-- builds, keyed (store, key, seq) plus entries_by_seq (store, seq), are
-- read and written by the same statements and kept as they are.
CREATE TABLE instadump.entries (
  store          text    NOT NULL,
  key            text    NOT NULL,
  seq            bigint  NOT NULL,
  removed        boolean NOT NULL,
  fingerprint    bigint  NOT NULL,
  schema_version int     NOT NULL,
  framed         boolean NOT NULL,
  checksum       bigint  NOT NULL,
  chunk_roots    bytea   NOT NULL,
  bytes          bytea   NOT NULL,
  PRIMARY KEY (store, seq, key)
);
-- Chunks (nodes of persistent collections), stored once, in the local
-- store's chunk layout (docs/FORMAT.md, "Chunks").
CREATE TABLE instadump.chunks (
  store text   NOT NULL,
  id    bigint NOT NULL,
  bytes bytea  NOT NULL,
  PRIMARY KEY (store, id)
);
-- Schema texts of the values, by fingerprint.
CREATE TABLE instadump.schemas (
  store       text   NOT NULL,
  fingerprint bigint NOT NULL,
  bytes       bytea  NOT NULL,
  PRIMARY KEY (store, fingerprint)
);
INSERT INTO instadump.format VALUES (1);
)sql";

// Tables of version 1 created by earlier builds have a foreign key from
// entries to snapshots, checked row by row on every snapshot's write. No
// build relies on it (nor would miss it): dropped when present.
void drop_entries_foreign_key(pg_connection& conn) {
  pg_result fk = conn.query("SELECT conname::text FROM pg_constraint WHERE conrelid = 'instadump.entries'::regclass "
                            "AND contype = 'f'", {}, "looking for the entries' foreign key");
  for (int i = 0; i < fk.rows(); ++i) {
    std::string name(fk.text(i, 0));
    conn.run("ALTER TABLE instadump.entries DROP CONSTRAINT \"" + name + "\"",
             "dropping the entries' foreign key (upgrading the replication tables)");
  }
}

}  // namespace

void ensure_pg_schema(pg_connection& conn) {
  conn.run("BEGIN", "starting the schema check");
  try {
    // Instances starting together must not both create the tables.
    conn.query("SELECT pg_advisory_xact_lock(hashtextextended('instadump:schema', 0))", {}, "locking the schema");
    pg_result has = conn.query("SELECT to_regclass('instadump.format') IS NOT NULL", {}, "looking for the tables");
    std::int32_t version = 0;
    if (has.boolean(0, 0)) {
      pg_result v = conn.query("SELECT max(version) FROM instadump.format", {}, "reading the tables' version");
      version = v.is_null(0, 0) ? 0 : v.i32(0, 0);
    }
    if (version > pg_schema_version) {
      throw replication_error("instadump replication: the tables in schema \"instadump\" are of version " +
                              std::to_string(version) + ", newer than this build knows (" +
                              std::to_string(pg_schema_version) + "); upgrade the program");
    }
    if (version == 0) {
      conn.run("CREATE SCHEMA IF NOT EXISTS instadump", "creating schema \"instadump\"");
      conn.run(kVersion1, "creating the replication tables (version 1)");
    } else {
      drop_entries_foreign_key(conn);
    }
    conn.run("COMMIT", "committing the replication tables");
  } catch (...) {
    try {
      if (conn.ok()) conn.run("ROLLBACK", "rolling back the schema check");
    } catch (...) {
    }
    throw;
  }
}

}  // namespace instadump::replication

// ensure_pg_schema (pg_schema.h): the replicated copy's tables, version 2.
//
// A new database gets version 1's tables upgraded to version 2, by the same
// statements that upgrade a copy an earlier build made, so that both paths
// end in the same tables and every test of a fresh copy runs the upgrade.
//
// 64-bit unsigned numbers (snapshot ids, checksums, fingerprints, chunk ids)
// are stored in bigint as their two's-complement bit pattern.
#include "replication/pg_schema.h"

#include <string>

#include "common/errors.h"
#include "replication/entry_column.h"
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
-- following the copy snapshot by snapshot. (Earlier builds keyed it
-- (store, key, seq), with an index entries_by_seq (store, seq). Version 2
-- replaces the table, whatever its keys.)
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

// Version 2: entries narrowed to (store_id, seq, key, entry). Each row of
// version 1 carried the store's name and eight columns; a thousand of them
// took PostgreSQL twice as long to insert as the same values in two
// columns. Stores get a number, and a row's metadata and bytes are one
// bytea (replication/entry_column.h, whose layout the INSERT below builds
// from version 1's columns). Version 1's entries table -- also one that
// earlier builds gave a foreign key to snapshots or a second index -- is
// dropped once its rows are copied.
constexpr const char* kUpgradeTo2 = R"sql(
ALTER TABLE instadump.stores ADD COLUMN id int GENERATED ALWAYS AS IDENTITY UNIQUE;
CREATE TABLE instadump.entries_v2 (
  store_id int    NOT NULL,
  seq      bigint NOT NULL,
  key      text   NOT NULL,
  entry    bytea  NOT NULL,
  PRIMARY KEY (store_id, seq, key)
);
INSERT INTO instadump.entries_v2 (store_id, seq, key, entry)
  SELECT t.id, e.seq, e.key,
         CASE WHEN e.removed THEN '\x01'::bytea
         ELSE set_byte('\x00'::bytea, 0, CASE WHEN e.framed THEN 2 ELSE 0 END) || int8send(e.fingerprint) ||
              int4send(e.schema_version) || int8send(e.checksum) || int4send(length(e.chunk_roots) / 8) ||
              e.chunk_roots || e.bytes
         END
  FROM instadump.entries e JOIN instadump.stores t ON t.store = e.store;
DROP TABLE instadump.entries;
ALTER TABLE instadump.entries_v2 RENAME TO entries;
ALTER INDEX instadump.entries_v2_pkey RENAME TO entries_pkey;
)sql";

// The rest of the upgrade to version 2: instadump.entry_head(entry), an
// entry without its value's bytes, as this build's own queries compute it
// (entry_column.h's entry_head_sql, which says why from a prefix). Copies
// upgraded by earlier builds have a function that calls get_byte() on the
// whole entry; it returns the same, and this build does not call it.
std::string upgrade_to_2_entry_head() {
  return "CREATE FUNCTION instadump.entry_head(entry bytea) RETURNS bytea\n"
         "  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT " + entry_head_sql("entry") + " $$;\n"
         "UPDATE instadump.format SET version = 2;\n";
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
      version = 1;
    }
    if (version == 1) {
      conn.run(std::string(kUpgradeTo2) + upgrade_to_2_entry_head(), "upgrading the replication tables to version 2");
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

void upgrade_pg_schema_if_older(pg_connection& conn) {
  pg_result has = conn.query("SELECT to_regclass('instadump.format') IS NOT NULL", {}, "looking for the tables");
  if (!has.boolean(0, 0)) return;
  pg_result v = conn.query("SELECT max(version) FROM instadump.format", {}, "reading the tables' version");
  if (!v.is_null(0, 0) && v.i32(0, 0) < pg_schema_version) ensure_pg_schema(conn);
}

void check_pg_schema_readable(pg_connection& conn) {
  pg_result v = conn.query("SELECT max(version) FROM instadump.format", {}, "reading the tables' version");
  const std::int32_t version = v.is_null(0, 0) ? 0 : v.i32(0, 0);
  if (version > pg_schema_version) {
    throw replication_error("instadump replication: the tables in schema \"instadump\" are of version " +
                            std::to_string(version) + ", newer than this build knows (" +
                            std::to_string(pg_schema_version) + "); upgrade the program");
  }
  if (version < pg_schema_version) {
    throw replication_error("instadump replication: the tables in schema \"instadump\" are of version " +
                            std::to_string(version) + ", which this build reads only once upgraded to version " +
                            std::to_string(pg_schema_version) + ". A writer of this build upgrades them when it "
                            "connects (setup with replicate), as does `instadump restore`; readers cannot, their "
                            "connections being read-only");
  }
}

}  // namespace instadump::replication

// The tables Instadump keeps in PostgreSQL (docs/FORMAT.md, "Replicated
// copy in PostgreSQL"), created and upgraded by the library.
#pragma once

#include <cstdint>

namespace instadump::replication {

class pg_connection;

// The version of the tables this build writes. A database whose tables are
// newer is refused (replication_error); older ones are upgraded.
inline constexpr std::int32_t pg_schema_version = 2;

// Creates schema "instadump" and its tables when missing, upgrades older
// ones, in one transaction, serialized with other instances doing the same
// (an advisory transaction lock). Throws replication_error when the tables
// are of a newer version, or the server refuses (no CREATE privilege: the
// message says which).
void ensure_pg_schema(pg_connection& conn);

// For a restore: upgrades the tables as ensure_pg_schema does when they
// exist and are older than pg_schema_version; creates nothing.
void upgrade_pg_schema_if_older(pg_connection& conn);

// For connections that only read (readers following the copy, the
// operators' tool): throws replication_error when the tables are not of
// pg_schema_version -- older ones are upgraded only by a writer (or a
// restore) of this build, newer ones need a newer build. REQUIRES: the
// tables exist.
void check_pg_schema_readable(pg_connection& conn);

}  // namespace instadump::replication

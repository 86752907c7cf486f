// The tables Instadump keeps in PostgreSQL (docs/FORMAT.md, "Replicated
// copy in PostgreSQL"), created and upgraded by the library.
#pragma once

#include <cstdint>

namespace instadump::replication {

class pg_connection;

// The version of the tables this build writes. A database whose tables are
// newer is refused (replication_error); older ones are upgraded.
inline constexpr std::int32_t pg_schema_version = 1;

// Creates schema "instadump" and its tables when missing, upgrades older
// ones, in one transaction, serialized with other instances doing the same
// (an advisory transaction lock). Throws replication_error when the tables
// are of a newer version, or the server refuses (no CREATE privilege: the
// message says which).
void ensure_pg_schema(pg_connection& conn);

}  // namespace instadump::replication

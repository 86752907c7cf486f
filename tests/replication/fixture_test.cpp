// The test fixture itself: a PostgreSQL of the test's own starts, answers,
// restarts on the same port, never takes another's server for its own, and
// streams to a standby.
#include <catch2/catch.hpp>

#include <filesystem>

#include "pg_server.h"

TEST_CASE("pg_server starts a cluster of its own on 127.0.0.1, restarts it, and removes it", "[fixture]") {
  std::filesystem::path data;
  {
    pg_test::pg_server pg;
    data = pg.data_dir();
    CHECK(pg.psql("select 1") == "1");
    CHECK(pg.psql("show listen_addresses") == "127.0.0.1");
    pg.psql("create table t (x int); insert into t values (7)");
    pg.stop();
    CHECK_FALSE(pg.running());
    pg.start();
    CHECK(pg.psql("select x from t") == "7");
  }
  CHECK_FALSE(std::filesystem::exists(data));
}

TEST_CASE("pg_server given a port another server listens on starts on a new one, and answers for itself",
          "[fixture]") {
  // Over TCP, the other server would answer the readiness check; the new
  // postmaster, unable to bind, would exit unnoticed, and the test using it
  // would talk to a server that another test stops.
  pg_test::pg_server other;
  pg_test::pg_server::cluster_options options;
  options.first_port = other.port();
  pg_test::pg_server pg(options);
  CHECK(pg.port() != other.port());
  CHECK(pg.psql("show data_directory") == pg.data_dir().string());
  other.stop();
  CHECK(pg.psql("select 1") == "1");
}

TEST_CASE("pg_server makes a streaming standby with pg_basebackup -R", "[fixture]") {
  pg_test::pg_server primary;
  pg_test::pg_server standby = pg_test::pg_server::standby_of(primary, "standby1");
  CHECK(standby.psql("select pg_is_in_recovery()") == "t");
  primary.psql("create table t (x int); insert into t values (42)");
  // The standby replays it shortly: wait for it by the primary's LSN.
  std::string lsn = primary.psql("select pg_current_wal_lsn()");
  for (int i = 0; i < 500 && standby.psql("select pg_last_wal_replay_lsn() >= '" + lsn + "'") != "t"; ++i) {}
  CHECK(standby.psql("select x from t") == "42");
}

// Sync replication to a PostgreSQL primary with a synchronous streaming
// standby (pg_basebackup -R, synchronous_standby_names): after each
// acknowledged save the standby has it; when the primary's machine is lost,
// the promoted standby restores every acknowledged save.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>

#include "fresh_session.h"
#include "replication_states.h"

import instadump;

using namespace replication_test;

TEST_CASE("sync with a synchronous standby: every acknowledged save is on the standby, which can take over",
          "[replication][standby]") {
  // remote_apply: a commit returns once the standby has applied it, so a
  // query there sees it (with "on" it is on the standby's disk).
  pg_test::pg_server primary({.settings = {},
                              .conf_lines = {"synchronous_standby_names = 'standby1'",
                                             "synchronous_commit = remote_apply"}});
  pg_test::pg_server standby = pg_test::pg_server::standby_of(primary, "standby1");
  // It is "async" while it catches up, then "sync".
  auto sync_state = [&] {
    return primary.psql("select sync_state from pg_stat_replication where application_name = 'standby1'");
  };
  for (int i = 0; i < 3000 && sync_state() != "sync"; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(sync_state() == "sync");

  test_util::fresh_session s;
  instadump::setup_options o;
  o.replicate.url = primary.url();
  o.replicate.store = "with-standby";
  o.replicate.mode = instadump::replication::sync;
  instadump::setup(s.dir.db(), o);
  for (long g = 1; g <= 5; ++g) {
    set_generation(g);
    instadump::save_all();
    CHECK(standby.psql("select newest from instadump.stores where store = 'with-standby'") == std::to_string(g));
  }
  instadump::shutdown();

  // The primary's machine is gone; the standby is promoted, and a new
  // instance restores from it.
  primary.kill();
  standby.psql("select pg_promote()");
  // It inherited the primary's settings: until it has a standby of its own,
  // commits must not wait for one.
  standby.psql("alter system set synchronous_standby_names = ''");
  standby.psql("select pg_reload_conf()");
  set_generation(0);
  test_util::temp_dir elsewhere;
  o.replicate.url = standby.url();
  instadump::setup(elsewhere.db(), o);
  CHECK(counter.deref() == 5);
  CHECK(text.deref() == text_for(5));
  set_generation(6);
  instadump::save_all();  // and goes on as the writer there
  CHECK(standby.psql("select newest from instadump.stores where store = 'with-standby'") == "6");
  instadump::shutdown();
}

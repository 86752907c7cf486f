// Sync replication: every acknowledged save is in PostgreSQL, as one
// transaction; an empty directory set up with the same settings is rebuilt
// from the newest replicated snapshot; the lease admits one writer; a
// fenced writer saves nothing more.
#include <catch2/catch.hpp>

#include <cerrno>
#include <filesystem>
#include <string>

#include "fresh_session.h"
#include "replication_states.h"
#include "storage/test_hooks.h"

import instadump;

using namespace replication_test;

namespace {

// (entries rows name their store by its number.)
std::string count_rows(const std::string& table, const std::string& store, const std::string& where = "true") {
  const std::string of_store = table == "entries"
                                   ? "store_id = (select id from instadump.stores where store = '" + store + "')"
                                   : "store = '" + store + "'";
  return server().psql("select count(*) from instadump." + table + " where " + of_store + " and " + where);
}

// Keeps journaled snapshots in the journal while it lives, so that the
// background writer's flushes do not take a failure injected for a save's.
struct journal_applier_held {
  journal_applier_held() { instadump::storage::testing::hold_journal_applier(true); }
  ~journal_applier_held() { instadump::storage::testing::hold_journal_applier(false); }
};

instadump::setup_options with_replication(const std::string& store, unsigned keep = 2) {
  instadump::setup_options o;
  o.keep_generations = keep;
  o.replicate = replicate(store, instadump::replication::sync);
  return o;
}

}  // namespace

TEST_CASE("sync: each save is replicated before save_all returns, and an empty directory is restored from it",
          "[replication][sync]") {
  test_util::fresh_session s;
  instadump::setup(s.dir.db(), with_replication("round-trip"));
  for (long g = 1; g <= 6; ++g) {
    set_generation(g);
    auto saved = instadump::save_all();
    auto st = instadump::replication_status();
    REQUIRE(st.enabled);
    CHECK(st.connected);
    CHECK(st.replicated_local_id == saved.snapshot_id);
    CHECK(st.replicated_seq == static_cast<std::uint64_t>(g));
    CHECK(st.snapshots_behind == 0);
    CHECK(st.last_error.empty());
    CHECK(count_rows("snapshots", "round-trip") == std::to_string(g));
  }
  // Only what changed travels: generation 6 wrote both values, an unchanged
  // save writes a snapshot row and no values.
  CHECK(count_rows("entries", "round-trip", "seq = 6") == "2");
  instadump::save_all();
  CHECK(count_rows("entries", "round-trip", "seq = 7") == "0");
  instadump::shutdown();

  set_generation(999);  // what the refs hold now must not survive the restore
  test_util::temp_dir other;
  instadump::setup(other.db(), with_replication("round-trip"));
  CHECK(counter.deref() == 6);
  CHECK(text.deref() == text_for(6));
  REQUIRE(instadump::snapshots().size() == 1);  // an ordinary store from here on
  // The writer knows the copy holds what it restored (read once, by the
  // restore): a save that changes nothing ships no value.
  instadump::save_all();
  CHECK(instadump::replication_status().replicated_seq == 8);
  CHECK(count_rows("entries", "round-trip", "seq = 8") == "0");
  // The restored store goes on where the copy ended.
  set_generation(7);
  instadump::save_all();
  CHECK(instadump::replication_status().replicated_seq == 9);
  instadump::shutdown();

  set_generation(0);
  test_util::temp_dir third;
  instadump::setup(third.db(), with_replication("round-trip"));
  CHECK(counter.deref() == 7);
  CHECK(text.deref() == text_for(7));
  instadump::shutdown();
}

TEST_CASE("sync: a save PostgreSQL does not acknowledge throws, stays saved locally, and the next save ships it",
          "[replication][sync]") {
  test_util::fresh_session s;
  instadump::setup(s.dir.db(), with_replication("unacknowledged", 8));
  set_generation(1);
  instadump::save_all();
  server().stop();
  set_generation(2);
  CHECK_THROWS_AS(instadump::save_all(), instadump::replication_error);
  CHECK(instadump::snapshots().size() == 2);  // saved locally all the same
  CHECK_FALSE(instadump::replication_status().connected);
  CHECK(instadump::replication_status().snapshots_behind == 1);
  CHECK_FALSE(instadump::replication_status().last_error.empty());
  server().start();
  set_generation(3);
  instadump::save_all();
  CHECK(instadump::replication_status().snapshots_behind == 0);
  // Both local snapshots, in order, each once.
  CHECK(server().psql("select string_agg(local_id::text, ',' order by seq) from instadump.snapshots where store = "
                      "'unacknowledged'") == "1,2,3");
  instadump::shutdown();
}

TEST_CASE("sync: a save whose local flush fails is not committed in PostgreSQL, and is shipped after a reopen",
          "[replication][sync]") {
  // The local snapshot is flushed while PostgreSQL runs its write, and the
  // write commits only after the flush: the copy never gets ahead of what
  // the local store has durably.
  test_util::fresh_session s;
  instadump::setup(s.dir.db(), with_replication("flush-fails", 8));
  set_generation(1);
  instadump::save_all();
  std::string message;
  {
    journal_applier_held held;  // (its flushes must not take the failure)
    instadump::storage::testing::fail_next_sync(EIO);
    set_generation(2);
    try {
      instadump::save_all();
    } catch (const instadump::save_failed& e) {
      message = e.what();
    }
  }
  instadump::storage::testing::fail_next_sync(0);
  CHECK_THAT(message, Catch::Contains("flushing") && Catch::Contains("refuses further writes"));
  CHECK(server().psql("select string_agg(local_id::text, ',' order by seq) from instadump.snapshots where store = "
                      "'flush-fails'") == "1");
  CHECK(count_rows("entries", "flush-fails", "seq > 1") == "0");
  // Reopened, the store still has snapshot 2 (this process did not crash),
  // and the next save ships it first.
  instadump::shutdown();
  instadump::setup(s.dir.db(), with_replication("flush-fails", 8));
  CHECK(counter.deref() == 2);
  set_generation(3);
  instadump::save_all();
  CHECK(server().psql("select string_agg(local_id::text, ',' order by seq) from instadump.snapshots where store = "
                      "'flush-fails'") == "1,2,3");
  instadump::shutdown();
}

TEST_CASE("the lease admits one writer -- a writer fenced by a newer epoch gets lease_lost and saves nothing more",
          "[replication][lease]") {
  // The lease is taken over while the writer's connection is cut, or while
  // it looks fine (the epoch moves on under it).
  const bool cut = GENERATE(true, false);
  const std::string store = cut ? "fenced-cut" : "fenced-live";
  test_util::fresh_session s;
  instadump::setup(s.dir.db(), with_replication(store, 8));
  set_generation(1);
  instadump::save_all();

  // The writer holds the lease: no one else can take the lock, and the
  // epoch says who took it last.
  CHECK(server().psql("select pg_try_advisory_lock(hashtextextended('instadump:store:" + store + "', 0))") == "f");
  CHECK(server().psql("select epoch from instadump.stores where store = '" + store + "'") == "1");

  if (cut) {
    server().psql("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'instadump'");
  }
  // What a standby that takes over does: raise the epoch.
  server().psql("update instadump.stores set epoch = epoch + 1 where store = '" + store + "'");
  set_generation(2);
  CHECK_THROWS_AS(instadump::save_all(), instadump::lease_lost);
  CHECK(instadump::replication_status().lease_lost);
  const auto kept = instadump::snapshots().size();
  set_generation(3);
  try {
    instadump::save_all();
    FAIL("a fenced writer saved");
  } catch (const instadump::lease_lost& e) {
    CHECK(std::string(e.what()).find("lost its lease") != std::string::npos);
  }
  CHECK(instadump::snapshots().size() == kept);  // refused before the local write
  CHECK(count_rows("snapshots", store) == "1");
  instadump::shutdown();
}

// Readers elsewhere: a read-only session whose source is the replicated copy
// in PostgreSQL (setup_options::read_only with replicate.url), in this
// process, following writer processes (replication_child) that save with
// sync replication. The reader sees only whole snapshots, never goes back,
// reaches the writer's last acknowledged snapshot, survives a PostgreSQL
// restart, and never writes PostgreSQL.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "child_process.h"
#include "fresh_session.h"
#include "replication_states.h"

import instadump;

using namespace replication_test;
using namespace std::chrono_literals;

namespace {

// Liveness only (how long to wait before calling it a hang), never a
// performance threshold.
constexpr auto kPatience = 60s;

// What the reader's callbacks saw (they run on its follower thread).
struct follower_events {
  std::mutex mu;
  std::condition_variable cv;
  std::uint64_t newest = 0;  // the last seq on_newer_snapshot reported
  int errors = 0;
  std::string last_error;

  // Waits until `ready` holds (under mu); returns whether it did.
  template <class Pred>
  bool wait(Pred ready) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, kPatience, [&] { return ready(); });
  }
};

instadump::setup_options reader_options(const std::string& store, follower_events& ev) {
  instadump::setup_options o;
  o.read_only = true;
  o.replicate = replicate(store, instadump::replication::sync);
  o.replicate.poll_interval = 20ms;  // (the NOTIFY normally comes first)
  o.replicate.on_newer_snapshot = [&ev](std::uint64_t seq) {
    std::lock_guard lock(ev.mu);
    ev.newest = seq;
    ev.cv.notify_all();
  };
  o.replicate.on_error = [&ev](const std::exception& e) {
    std::lock_guard lock(ev.mu);
    ++ev.errors;
    ev.last_error = e.what();
    ev.cv.notify_all();
  };
  return o;
}

// Both states hold one generation: the snapshot loaded was a whole one.
void check_whole() {
  const long g = counter.deref();
  INFO("generation " << g);
  CHECK(text.deref() == (g == 0 ? std::string() : text_for(g)));
}

// Runs a writer process on `dir` that saves `saves` generations and exits;
// returns the last one it acknowledged.
long write_generations(const std::string& dir, const std::string& store, int saves) {
  child writer({"writer", dir, server().url(), store, std::to_string(saves)});
  long acked = -1;
  for (std::string l; !(l = writer.line()).empty();) {
    INFO("the writer printed \"" << l << "\"");
    REQUIRE(l.rfind("error", 0) != 0);
    if (long g = number_after(l, "acked"); g >= 0) acked = g;
  }
  return acked;
}

std::string pg_newest(const std::string& store) {
  return server().psql("select newest from instadump.stores where store = '" + store + "'");
}

// Waits until PostgreSQL serves exactly `n` instadump connections; returns
// whether it did. A client that is killed or hangs up leaves its backend
// running for a moment: a statement it had sent may still commit then.
bool wait_for_instadump_backends(int n) {
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  const std::string want = std::to_string(n);
  while (server().psql("select count(*) from pg_stat_activity where application_name = 'instadump'") != want) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

}  // namespace

TEST_CASE("a reader process follows a writer process's snapshots as they replicate: whole, never older, up to the "
          "last acknowledged", "[replication][reader]") {
  test_util::fresh_session s;
  test_util::temp_dir writer_dir;
  child writer({"writer", writer_dir.db().string(), server().url(), "followed"});
  REQUIRE(writer.line() == "writer 0 1");
  long acked = 0;
  auto read_acks_up_to = [&](long g) {  // (also keeps the writer's pipe drained)
    while (acked < g) {
      const std::string l = writer.line();
      INFO("the writer printed \"" << l << "\"");
      REQUIRE(number_after(l, "acked") == acked + 1);
      acked = number_after(l, "acked");
    }
  };
  read_acks_up_to(1);

  follower_events ev;
  instadump::setup(s.dir.db(), reader_options("followed", ev));  // an empty directory of its own
  check_whole();
  REQUIRE(counter.deref() >= 1);
  CHECK_THROWS_AS(instadump::save_all(), instadump::read_only_session);

  long last = counter.deref();
  std::uint64_t last_id = 0, last_seq = 0;
  int advanced = 0;
  for (int round = 0; round < 40; ++round) {
    // Wait for the follower to report a snapshot newer than the one loaded.
    REQUIRE(ev.wait([&] { return ev.newest > last_seq; }));
    const std::uint64_t id = instadump::reload_all();
    const long g = counter.deref();
    check_whole();
    CHECK(id >= last_id);  // never an older snapshot
    CHECK(g >= last);
    const auto st = instadump::replication_status();
    CHECK(st.reader);
    CHECK(st.loaded_seq >= last_seq);
    CHECK(st.loaded_seq > 0);
    CHECK(st.loaded_seq <= st.replicated_seq);  // (the follower may have gone on since)
    if (g > last) ++advanced;
    last = g;
    last_id = id;
    last_seq = st.loaded_seq;
    read_acks_up_to(g);  // what the reader saw was saved (and acknowledged) by the writer
  }
  CHECK(advanced >= 10);  // it followed, rather than loading one snapshot over and over

  // The writer stops; the reader catches up with its last acknowledged save.
  writer.kill();
  for (std::string l; !(l = writer.line()).empty();) {
    REQUIRE(number_after(l, "acked") == acked + 1);
    acked = number_after(l, "acked");
  }
  // Its backends end after it: only then is the save in flight committed or not.
  REQUIRE(wait_for_instadump_backends(2));  // the reader's own two
  instadump::reload_all();
  check_whole();
  CHECK(counter.deref() >= acked);
  CHECK(counter.deref() <= acked + 1);  // at most the save in flight when it died, if PostgreSQL committed it
  CHECK(std::to_string(instadump::replication_status().loaded_seq) == pg_newest("followed"));
  instadump::shutdown();
}

TEST_CASE("a reader survives a PostgreSQL restart: reloads fail meanwhile, the state stays, it catches up after",
          "[replication][reader]") {
  test_util::fresh_session s;
  test_util::temp_dir writer_dir;
  REQUIRE(write_generations(writer_dir.db().string(), "restarted", 5) == 5);

  follower_events ev;
  instadump::setup(s.dir.db(), reader_options("restarted", ev));
  CHECK(counter.deref() == 5);
  check_whole();

  server().stop();
  CHECK_THROWS_AS(instadump::reload_all(), instadump::replication_error);
  CHECK(counter.deref() == 5);  // the last loaded state stays
  REQUIRE(ev.wait([&] { return ev.errors > 0; }));
  CHECK_FALSE(instadump::replication_status().connected);
  CHECK_FALSE(instadump::replication_status().last_error.empty());

  server().start();
  REQUIRE(write_generations(writer_dir.db().string(), "restarted", 5) == 10);
  REQUIRE(ev.wait([&] { return std::to_string(ev.newest) == pg_newest("restarted"); }));
  CHECK(instadump::replication_status().connected);
  instadump::reload_all();
  CHECK(counter.deref() == 10);
  check_whole();
  instadump::shutdown();
}

TEST_CASE("a reader never writes to PostgreSQL: the tables and the lease are untouched", "[replication][reader]") {
  test_util::fresh_session s;
  test_util::temp_dir writer_dir;
  REQUIRE(write_generations(writer_dir.db().string(), "untouched", 3) == 3);
  auto tables = [] {
    std::string all;
    for (const char* t : {"stores", "snapshots", "entries", "chunks", "schemas"}) {
      all += server().psql(std::string("select md5(coalesce(string_agg(t::text, ',' order by t::text), '')) "
                                       "from instadump.") + t + " t") + ";";
    }
    return all;
  };
  const std::string before = tables();

  follower_events ev;
  instadump::setup(s.dir.db(), reader_options("untouched", ev));
  CHECK(counter.deref() == 3);
  REQUIRE(ev.wait([&] { return ev.newest == 3; }));
  CHECK(instadump::reload_all() > 0);
  // No lease taken: the writer's advisory lock is free.
  CHECK(server().psql("select count(*) from pg_locks where locktype = 'advisory'") == "0");
  // Its two connections (one reads, one listens) are gone with the session.
  CHECK(server().psql("select count(*) from pg_stat_activity where application_name = 'instadump'") == "2");
  instadump::shutdown();
  CHECK(tables() == before);
  CHECK(wait_for_instadump_backends(0));
}

TEST_CASE("a reader's setup names what is wrong: PostgreSQL unreachable, a directory that is not its cache",
          "[replication][reader]") {
  test_util::fresh_session s;
  follower_events ev;
  instadump::setup_options o = reader_options("nowhere", ev);
  o.replicate.url = "postgresql://reader:secret@127.0.0.1:1/none";
  try {
    instadump::setup(s.dir.db(), o);
    FAIL("setup succeeded without PostgreSQL");
  } catch (const instadump::open_failed& e) {
    const std::string what = e.what();
    CHECK(what.find("\"nowhere\"") != std::string::npos);
    CHECK(what.find("postgresql://reader:***@127.0.0.1:1/none") != std::string::npos);
    CHECK(what.find("secret") == std::string::npos);
  }
  CHECK_FALSE(instadump::is_setup());
  o = reader_options("nowhere", ev);
  o.replicate.standby = true;
  CHECK_THROWS_AS(instadump::setup(s.dir.db(), o), instadump::invalid_option);

  // A writer's store is never taken for a cache (nor emptied).
  test_util::temp_dir writer_dir;
  REQUIRE(write_generations(writer_dir.db().string(), "not-a-cache", 1) == 1);
  CHECK_THROWS_AS(instadump::setup(writer_dir.db(), reader_options("not-a-cache", ev)), instadump::open_failed);
  CHECK(std::filesystem::exists(writer_dir.db() / "data.mdb"));
  // The same cache set up again is rebuilt.
  instadump::setup(s.dir.db(), reader_options("not-a-cache", ev));
  instadump::shutdown();
  instadump::setup(s.dir.db(), reader_options("not-a-cache", ev));
  CHECK(counter.deref() == 1);
  instadump::shutdown();
}

TEST_CASE("a reader on a hot standby of the primary (no LISTEN there) follows by polling", "[replication][reader]") {
  pg_test::pg_server standby = pg_test::pg_server::standby_of(server(), "reader-standby");
  test_util::fresh_session s;
  test_util::temp_dir writer_dir;
  auto standby_has = [&](long g) {  // (streaming is asynchronous: wait for it)
    for (int i = 0; i < 6000; ++i) {
      try {
        if (standby.psql("select newest from instadump.stores where store = 'on-standby'") == std::to_string(g)) {
          return true;
        }
      } catch (const std::runtime_error& e) {
        // Until the writer's CREATE TABLE has streamed, the standby lacks the table.
        if (std::string(e.what()).find("does not exist") == std::string::npos) throw;
      }
      std::this_thread::sleep_for(10ms);
    }
    return false;
  };
  REQUIRE(write_generations(writer_dir.db().string(), "on-standby", 3) == 3);
  REQUIRE(standby_has(3));

  follower_events ev;
  instadump::setup_options o = reader_options("on-standby", ev);
  o.replicate.url = standby.url();
  instadump::setup(s.dir.db(), o);
  CHECK(counter.deref() == 3);
  REQUIRE(write_generations(writer_dir.db().string(), "on-standby", 3) == 6);
  REQUIRE(standby_has(6));
  REQUIRE(ev.wait([&] { return ev.newest == 6; }));
  instadump::reload_all();
  CHECK(counter.deref() == 6);
  check_whole();
  {
    std::lock_guard lock(ev.mu);
    CHECK(ev.errors == 0);  // LISTEN refused is not a failure
  }
  instadump::shutdown();
}

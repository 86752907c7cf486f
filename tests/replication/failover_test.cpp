// Failover: a writer process saving in a loop (sync replication) is
// SIGKILLed at random moments, over and over; each time a standby process,
// waiting for the lease, takes over. Every save a writer acknowledged is in
// what its successor restored, and what it restored is one whole snapshot.
// A standby keeps waiting through a restart of PostgreSQL.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>
#include <sstream>
#include <string>
#include <vector>

#include "child_process.h"
#include "pg_server.h"
#include "temp_dir.h"

using replication_test::child;
using replication_test::number_after;

TEST_CASE("failover: a writer SIGKILLed 100 times, a standby takes over each time with every acknowledged save",
          "[replication][failover]") {
  pg_test::pg_server pg;
  std::mt19937 random(20261206);
  std::vector<std::unique_ptr<test_util::temp_dir>> dirs;
  auto next_dir = [&] {
    dirs.push_back(std::make_unique<test_util::temp_dir>());
    return dirs.back()->db().string();
  };
  auto writer = std::make_unique<child>(std::vector<std::string>{"writer", next_dir(), pg.url(), "failover"});
  REQUIRE(writer->line() == "writer 0 1");
  long acked = 0;
  constexpr int kKills = 100;
  for (int kill = 1; kill <= kKills; ++kill) {
    // The standby starts now and waits for the lease while the writer saves.
    auto standby = std::make_unique<child>(std::vector<std::string>{"standby", next_dir(), pg.url(), "failover"});
    // Let the writer acknowledge a random number of saves (at least one),
    // then kill it at a random moment of the next.
    const int saves = 1 + static_cast<int>(random() % 6);
    for (int i = 0; i < saves; ++i) {
      std::string l = writer->line();
      long g = number_after(l, "acked");
      INFO("kill " << kill << ": the writer printed \"" << l << "\"");
      REQUIRE(g == acked + 1);
      acked = g;
    }
    if (random() % 2) usleep(static_cast<useconds_t>(random() % 3000));
    writer->kill();
    // Any line the writer printed before it died was acknowledged too: it
    // reads to the end of its pipe.
    for (std::string l; !(l = writer->line()).empty();) {
      long g = number_after(l, "acked");
      REQUIRE(g == acked + 1);
      acked = g;
    }
    std::string took_over = standby->line();
    INFO("kill " << kill << ": the standby printed \"" << took_over << "\"; acknowledged: " << acked);
    long restored = -1;
    int whole = 0;
    std::istringstream in(took_over);
    std::string word;
    in >> word >> restored >> whole;
    REQUIRE(word == "writer");
    CHECK(whole == 1);
    // Every acknowledged save is there; at most the one in flight beyond.
    REQUIRE(restored >= acked);
    REQUIRE(restored <= acked + 1);
    acked = restored;
    writer = std::move(standby);
    if (dirs.size() > 4) dirs.erase(dirs.begin());  // (the killed writers' directories)
  }
  REQUIRE(number_after(writer->line(), "acked") == acked + 1);  // the last one saves too
  writer->kill();
  // Each of the 101 writers replicated under an epoch of its own.
  CHECK(pg.psql("select count(distinct epoch) from instadump.snapshots where store = 'failover'") ==
        std::to_string(kKills + 1));
}

TEST_CASE("a standby keeps waiting through a PostgreSQL restart, then takes over with every acknowledged save",
          "[replication][failover]") {
  pg_test::pg_server pg;
  test_util::temp_dir writer_dir, standby_dir;
  auto writer = std::make_unique<child>(std::vector<std::string>{"writer", writer_dir.db().string(), pg.url(),
                                                                 "restart"});
  REQUIRE(writer->line() == "writer 0 1");
  long acked = number_after(writer->line(), "acked");
  REQUIRE(acked >= 1);
  child standby({"standby", standby_dir.db().string(), pg.url(), "restart"});
  // Once it waits for the lock, PostgreSQL goes down under both: the
  // standby's wait fails, as does the writer's next save (it exits).
  const auto waiting = [&] { return pg.psql("select count(*) from pg_locks where not granted") == "1"; };
  for (int i = 0; i < 3000 && !waiting(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(waiting());
  pg.stop();
  for (std::string l; !(l = writer->line()).empty();) {
    if (l.rfind("acked", 0) == 0) acked = number_after(l, "acked");  // (then "error ...": PostgreSQL is gone)
  }
  writer.reset();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a few of the standby's attempts fail
  pg.start();
  // The standby reconnected, took the lease and restored the last
  // acknowledged save (or the one in flight beyond it).
  std::istringstream took_over(standby.line());
  std::string word;
  long restored = -1;
  int whole = 0;
  took_over >> word >> restored >> whole;
  REQUIRE(word == "writer");
  CHECK(whole == 1);
  CHECK(restored >= acked);
  CHECK(restored <= acked + 1);
  CHECK(number_after(standby.line(), "acked") == restored + 1);  // and goes on as the writer
}

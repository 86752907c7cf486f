// Async replication: saves never wait for PostgreSQL; while it is down they
// go on and the lag shows; once it is back, the sender catches up, every
// snapshot shipped once, in order.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "fresh_session.h"
#include "replication_states.h"

import instadump;

using namespace replication_test;
using namespace std::chrono_literals;

namespace {

// Liveness only (how long to wait before calling it a hang), never a
// performance threshold.
constexpr auto kPatience = 60s;

instadump::setup_options async_options(const std::string& store, std::atomic<int>* errors) {
  instadump::setup_options o;
  o.keep_generations = 64;  // every snapshot stays, so every one must reach PostgreSQL
  o.replicate = replicate(store, instadump::replication::async);
  o.replicate.on_error = [errors](const std::exception&) { ++*errors; };
  o.replicate.shutdown_drain = 100ms;
  return o;
}

std::string shipped(const std::string& store) {
  return server().psql("select string_agg(local_id::text, ',' order by seq) from instadump.snapshots where store = '" +
                       store + "'");
}

std::string ids(long from, long to) {
  std::string s;
  for (long i = from; i <= to; ++i) s += (s.empty() ? "" : ",") + std::to_string(i);
  return s;
}

}  // namespace

TEST_CASE("async: PostgreSQL stopped and restarted while saving -- saves go on, the lag shows, the sender catches up",
          "[replication][async]") {
  test_util::fresh_session s;
  std::atomic<int> errors{0};
  instadump::setup(s.dir.db(), async_options("async", &errors));
  for (long g = 1; g <= 5; ++g) {
    set_generation(g);
    instadump::save_all();
  }
  REQUIRE(instadump::wait_for_replication(kPatience));
  CHECK(shipped("async") == ids(1, 5));

  server().stop();
  for (long g = 6; g <= 20; ++g) {  // none of these waits for, or fails because of, PostgreSQL
    set_generation(g);
    instadump::save_all();
  }
  // The sender tried, failed, and says so.
  const auto give_up = std::chrono::steady_clock::now() + kPatience;
  while (errors.load() == 0 && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(10ms);
  REQUIRE(errors.load() > 0);
  auto lag = instadump::replication_status();
  CHECK_FALSE(lag.connected);
  CHECK(lag.snapshots_behind >= 1);
  CHECK(lag.bytes_behind > 0);
  CHECK_FALSE(lag.last_error.empty());
  CHECK(lag.replicated_local_id < 20);

  server().start();
  for (long g = 21; g <= 25; ++g) {
    set_generation(g);
    instadump::save_all();
  }
  REQUIRE(instadump::wait_for_replication(kPatience));
  auto caught_up = instadump::replication_status();
  CHECK(caught_up.connected);
  CHECK(caught_up.snapshots_behind == 0);
  CHECK(caught_up.bytes_behind == 0);
  CHECK(caught_up.replicated_local_id == 25);
  CHECK(caught_up.last_error.empty());
  // Nothing lost, nothing twice, in order.
  CHECK(shipped("async") == ids(1, 25));
  instadump::shutdown();

  set_generation(0);
  test_util::temp_dir restored;
  instadump::setup(restored.db(), async_options("async", &errors));
  CHECK(counter.deref() == 25);
  CHECK(text.deref() == text_for(25));
  instadump::shutdown();
}

TEST_CASE("async: a writer restarted on its own directory ships what its sender had not", "[replication][async]") {
  test_util::fresh_session s;
  std::atomic<int> errors{0};
  instadump::setup(s.dir.db(), async_options("restart", &errors));
  set_generation(1);
  instadump::save_all();
  REQUIRE(instadump::wait_for_replication(kPatience));
  server().stop();
  set_generation(2);
  instadump::save_all();
  set_generation(3);
  instadump::save_all();
  instadump::shutdown();  // the sender gives up draining: PostgreSQL is down
  server().start();

  instadump::setup(s.dir.db(), async_options("restart", &errors));
  REQUIRE(instadump::wait_for_replication(kPatience));
  CHECK(shipped("restart") == "1,2,3");
  instadump::shutdown();
}

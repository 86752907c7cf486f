// Autosave in one process: a timer save that succeeds, and commits of refs
// registered after setup() counting toward after_commits. (The save at
// normal exit needs a process that exits: process_test.cpp.)
#include <catch2/catch.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <thread>

#include "fresh_session.h"
#include "test_state.h"

import instadump;

namespace {

using long_registration = instadump::state_registration<long>;

// The number of stored snapshots once it reaches `n`, or after a generous
// deadline (only a failing test waits for it).
std::size_t wait_for_snapshots(std::size_t n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (instadump::snapshots().size() < n && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return instadump::snapshots().size();
}

}  // namespace

TEST_CASE("autosave: a timer save stores the state", "[persist]") {
  test_util::fresh_session f;
  instadump::ref<long> counter{0};
  long_registration reg(counter, "autosave::counter", test_state::int64_schema, test_state::long_codec);
  instadump::setup_options options;
  options.durable = false;
  options.autosave.every = std::chrono::milliseconds(10);
  options.autosave.save_on_shutdown = false;  // only the timer saves
  int failures = 0;
  options.autosave.on_error = [&](const std::exception&) { ++failures; };
  instadump::setup(f.dir.db(), options);
  instadump::dosync([&] { counter.set(41); });
  REQUIRE(wait_for_snapshots(1) >= 1);
  instadump::shutdown();
  CHECK(failures == 0);
  instadump::dosync([&] { counter.set(0); });
  instadump::setup(f.dir.db());
  CHECK(counter.deref() == 41);
}

TEST_CASE("autosave: commits of a ref registered after setup count toward after_commits", "[persist]") {
  test_util::fresh_session f;
  instadump::setup_options options;
  options.durable = false;
  options.autosave.after_commits = 5;
  options.autosave.save_on_shutdown = false;
  instadump::setup(f.dir.db(), options);

  // As a state in a library loaded with dlopen() would be.
  instadump::ref<long> late{0};
  auto reg = std::make_unique<long_registration>(late, "autosave::late", test_state::int64_schema,
                                                 test_state::long_codec);
  for (long i = 1; i <= 5; ++i) instadump::dosync([&] { late.set(i); });
  REQUIRE(wait_for_snapshots(1) == 1);
  instadump::shutdown();
  instadump::dosync([&] { late.set(0); });
  instadump::setup(f.dir.db());
  CHECK(late.deref() == 5);
  instadump::shutdown();

  // Unregistered, its ref (which lives on) is no longer watched.
  instadump::setup(f.dir.db(), options);
  reg.reset();
  CHECK_FALSE(late.remove_watch("instadump.autosave"));
}

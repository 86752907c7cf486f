// Read-only sessions in one process (the writer and readers in separate
// processes are in process_test.cpp): a reader loads what the writer saved,
// refuses to save or autosave with read_only_session, does not create a
// store, and leaves the directory as it found it.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <string>

#include "fresh_session.h"
#include "test_state.h"

import instadump;

namespace {

instadump::setup_options reader() {
  instadump::setup_options o;
  o.read_only = true;
  return o;
}

}  // namespace

TEST_CASE("a read-only session loads the writer's snapshots and refuses to save", "[persist]") {
  test_util::fresh_session f;
  instadump::ref<long> count{1};
  instadump::state_registration<long> reg(count, "read_only::count", test_state::int64_schema,
                                          test_state::long_codec);
  instadump::setup(f.dir.db());
  instadump::dosync([&] { count.set(5); });
  const std::uint64_t saved = instadump::save_all().snapshot_id;
  instadump::shutdown();
  const auto files_before = std::filesystem::last_write_time(f.dir.db() / "data.mdb");

  instadump::dosync([&] { count.set(0); });
  instadump::setup(f.dir.db(), reader());
  CHECK(count.deref() == 5);
  CHECK(instadump::snapshots().at(0).id == saved);
  instadump::dosync([&] { count.set(6); });
  CHECK_THROWS_AS(instadump::save_all(), instadump::read_only_session);
  try {
    instadump::save_all();
  } catch (const instadump::read_only_session& e) {
    CHECK_THAT(e.what(), Catch::Contains("read-only session") && Catch::Contains(f.dir.db().string()));
  }
  CHECK(instadump::reload_all() == saved);
  CHECK(count.deref() == 5);
  instadump::shutdown();  // (no final save: a reader never saves)
  CHECK(std::filesystem::last_write_time(f.dir.db() / "data.mdb") == files_before);

  // The writer may open it again with the reader gone.
  instadump::setup(f.dir.db());
  CHECK(count.deref() == 5);
}

TEST_CASE("a read-only session needs an existing store and no autosave", "[persist]") {
  test_util::fresh_session f;
  try {
    instadump::setup(f.dir.db(), reader());
    FAIL("expected open_failed");
  } catch (const instadump::open_failed& e) {
    CHECK_THAT(e.what(), Catch::Contains("read_only") && Catch::Contains("no data.mdb"));
  }
  CHECK_FALSE(std::filesystem::exists(f.dir.db()));  // nothing created
  CHECK_FALSE(instadump::is_setup());

  instadump::setup(f.dir.db());
  instadump::shutdown();
  instadump::setup_options o = reader();
  o.autosave.every = std::chrono::seconds(1);
  CHECK_THROWS_AS(instadump::setup(f.dir.db(), o), instadump::read_only_session);
  CHECK_FALSE(instadump::is_setup());
}

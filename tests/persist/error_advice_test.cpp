// Error messages give advice that can be followed: each names calls and
// options that exist (used below, so that renaming them breaks this test),
// and following it works. Also: setup() refuses a directory that holds
// files but no store.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include "damage.h"
#include "fresh_session.h"
#include "storage/test_hooks.h"
#include "test_state.h"

import instadump;

namespace {

// What earlier messages advised and does not exist.
void check_names_no_missing_api(const std::string& message) {
  CAPTURE(message);
  CHECK_THAT(message, !Catch::Contains("read_only") && !Catch::Contains("list_snapshots") &&
                          !Catch::Contains("close and reopen"));
}

// The message of what `f` throws as E (failing the test when it throws
// nothing or something else).
template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL("unexpected exception: " << e.what());
  }
  FAIL("nothing was thrown");
  return {};
}

// Holds the writer lock of a store the way another writer process would
// (flock locks belong to the open file, so this conflicts within a process too).
class foreign_writer {
 public:
  explicit foreign_writer(const std::filesystem::path& dir)
      : fd_(::open((dir / "instadump.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    REQUIRE(fd_ >= 0);
    REQUIRE(::flock(fd_, LOCK_EX | LOCK_NB) == 0);
  }
  ~foreign_writer() { ::close(fd_); }
  foreign_writer(const foreign_writer&) = delete;
  foreign_writer& operator=(const foreign_writer&) = delete;

 private:
  int fd_;
};

// Keeps journaled snapshots in the journal while it lives, so that the
// background writer's flushes do not take a failure injected for a save's.
struct journal_applier_held {
  journal_applier_held() { instadump::storage::testing::hold_journal_applier(true); }
  ~journal_applier_held() { instadump::storage::testing::hold_journal_applier(false); }
};

}  // namespace

TEST_CASE("another writer: the message says how to end it, not an option that does not exist", "[persist][errors]") {
  test_util::fresh_session f;
  instadump::setup(f.dir.db());
  instadump::shutdown();
  std::string message;
  {
    foreign_writer other(f.dir.db());
    message = message_of<instadump::locked_by_other_process>([&] { instadump::setup(f.dir.db()); });
  }
  check_names_no_missing_api(message);
  CHECK_THAT(message, Catch::Contains("instadump::shutdown()") && Catch::Contains(f.dir.db().string()));
  instadump::setup(f.dir.db());  // once the other writer is gone
  CHECK(instadump::is_setup());
}

TEST_CASE("a snapshot that is not stored: the message names instadump::snapshots()", "[persist][errors]") {
  test_util::fresh_session f;
  instadump::setup(f.dir.db());
  const std::uint64_t id = instadump::save_all().snapshot_id;
  const std::string message = message_of<instadump::load_failed>([&] { instadump::reload_all(id + 100); });
  check_names_no_missing_api(message);
  CHECK_THAT(message, Catch::Contains("instadump::snapshots()") && Catch::Contains(std::to_string(id + 100)) &&
                          Catch::Contains("it holds " + std::to_string(id)));
  CHECK(instadump::snapshots().front().id == id);  // what it advises
  instadump::shutdown();
  instadump::setup_options options;
  options.load_snapshot = id + 100;
  const std::string at_setup = message_of<instadump::load_failed>([&] { instadump::setup(f.dir.db(), options); });
  CHECK_THAT(at_setup, Catch::Contains("instadump::snapshots()"));
}

TEST_CASE("a damaged snapshot: the message names the ways to load an older one, and they work", "[persist][errors]") {
  test_util::fresh_session f;
  instadump::ref<std::string> value{""};
  instadump::state_registration<std::string> reg(value, "advice::value", test_state::text_schema,
                                                 test_state::text_codec);
  instadump::setup(f.dir.db());
  instadump::dosync([&] { value.set(std::string(20'000, 'A')); });
  const std::uint64_t older = instadump::save_all().snapshot_id;
  instadump::dosync([&] { value.set(std::string(20'000, 'B')); });
  instadump::save_all();
  instadump::shutdown();
  REQUIRE(test_util::damage_run_of(f.dir.db(), 'B'));

  const std::string message = message_of<instadump::corrupt_data>([&] { instadump::setup(f.dir.db()); });
  check_names_no_missing_api(message);
  CHECK_THAT(message, Catch::Contains("fall_back_to_older_snapshots") && Catch::Contains("setup_options") &&
                          Catch::Contains("reload_options") && Catch::Contains("instadump::snapshots()") &&
                          Catch::Contains("reload_all(id)") && Catch::Contains("setup_options::load_snapshot"));
  // Each way it names.
  instadump::setup_options fall_back;
  fall_back.fall_back_to_older_snapshots = true;
  fall_back.on_skipped_snapshot = [](std::uint64_t, const std::exception&) {};
  instadump::setup(f.dir.db(), fall_back);
  CHECK(value.deref() == std::string(20'000, 'A'));
  instadump::shutdown();
  instadump::setup_options load_older;
  load_older.load_snapshot = older;
  instadump::setup(f.dir.db(), load_older);
  CHECK(value.deref() == std::string(20'000, 'A'));
  instadump::dosync([&] { value.set("live"); });
  instadump::reload_all(older);
  CHECK(value.deref() == std::string(20'000, 'A'));
  instadump::reload_options reload_fall_back;
  reload_fall_back.fall_back_to_older_snapshots = true;
  reload_fall_back.on_skipped_snapshot = fall_back.on_skipped_snapshot;
  CHECK(instadump::reload_all(reload_fall_back) == older);
}

TEST_CASE("a failed flush: the message names the calls that reopen the store, and they do", "[persist][errors]") {
  test_util::fresh_session f;
  instadump::setup(f.dir.db());
  instadump::save_all();
  std::string first, next;
  {
    journal_applier_held held;
    instadump::storage::testing::fail_next_sync(EIO);
    first = message_of<instadump::save_failed>([] { instadump::save_all(); });
    next = message_of<instadump::save_failed>([] { instadump::save_all(); });  // refused until reopened
  }
  instadump::storage::testing::fail_next_sync(0);
  for (const std::string& message : {first, next}) {
    check_names_no_missing_api(message);
    CHECK_THAT(message, Catch::Contains("instadump::shutdown()") && Catch::Contains("instadump::setup()"));
  }
  instadump::shutdown();
  instadump::setup(f.dir.db());
  CHECK(instadump::save_all().snapshot_id > 0);
}

TEST_CASE("setup refuses a directory that holds files but no store", "[persist][errors]") {
  test_util::fresh_session f;
  const auto dir = f.dir.path() / "not-a-store";
  std::filesystem::create_directories(dir / "src");
  std::ofstream(dir / "notes.txt") << "mine";
  const std::string message = message_of<instadump::open_failed>([&] { instadump::setup(dir); });
  CHECK_THAT(message, Catch::Contains(dir.string()) && Catch::Contains("\"notes.txt\"") &&
                          Catch::Contains("\"src/\"") && Catch::Contains("empty directory"));
  CHECK_FALSE(instadump::is_setup());
  CHECK_FALSE(std::filesystem::exists(dir / "data.mdb"));  // nothing was added to it

  // Many entries are summed up.
  for (int i = 0; i < 5; ++i) std::ofstream(dir / ("file" + std::to_string(i))) << i;
  CHECK_THAT(message_of<instadump::open_failed>([&] { instadump::setup(dir); }), Catch::Contains("and 4 more"));

  // An empty directory becomes a store, and a store opens again.
  const auto empty = f.dir.path() / "empty";
  std::filesystem::create_directories(empty);
  instadump::setup(empty);
  instadump::save_all();
  instadump::shutdown();
  instadump::setup(empty);
  CHECK(instadump::snapshots().size() == 1);
}

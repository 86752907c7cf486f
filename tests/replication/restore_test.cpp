// Restoring a chosen replicated snapshot: setup_options::replicate.
// restore_snapshot, and the operators' `instadump restore URL STORE DIR
// [--snapshot N]` run as a program against the test's PostgreSQL, with its
// refusals (a non-empty DIR, an unknown store, an unknown snapshot).
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "fresh_session.h"
#include "programs.h"
#include "replication_states.h"

import instadump;

using namespace replication_test;

namespace {

// Saves generations 1..n into a fresh directory, replicated to `store`.
void replicate_generations(const std::string& store, long n) {
  test_util::temp_dir writer;
  instadump::setup_options o;
  o.replicate = replicate(store, instadump::replication::sync);
  instadump::setup(writer.db(), o);
  for (long g = 1; g <= n; ++g) {
    set_generation(g);
    instadump::save_all();
  }
  instadump::shutdown();
}

// The generation the store in `dir` holds (opened without replication).
long generation_in(const std::filesystem::path& dir) {
  set_generation(0);
  instadump::setup(dir);
  const long g = counter.deref();
  CHECK(text.deref() == text_for(g));
  instadump::shutdown();
  return g;
}

clitest::program_result tool(const std::vector<std::string>& args, const test_util::temp_dir& scratch) {
  return clitest::run(INSTADUMP_TOOL_PATH, args, scratch.path());
}

}  // namespace

TEST_CASE("setup restores the replicated snapshot restore_snapshot names, and refuses a directory with snapshots",
          "[replication][restore]") {
  test_util::fresh_session s;
  replicate_generations("restore-chosen", 4);
  instadump::setup_options o;
  o.replicate = replicate("restore-chosen", instadump::replication::sync);
  o.replicate.restore_snapshot = 2;
  set_generation(0);
  instadump::setup(s.dir.db(), o);
  CHECK(counter.deref() == 2);
  CHECK(text.deref() == text_for(2));
  // It goes on as the writer: its first save replicates the restored state
  // (as snapshot 5, after the four the copy had), then itself.
  set_generation(20);
  instadump::save_all();
  CHECK(instadump::replication_status().replicated_seq == 6);
  instadump::shutdown();
  test_util::temp_dir fifth;
  o.replicate.restore_snapshot = 5;
  instadump::setup(fifth.db(), o);
  CHECK(counter.deref() == 2);
  instadump::shutdown();
  CHECK_THROWS_AS(instadump::setup(s.dir.db(), o), instadump::invalid_option);

  test_util::temp_dir other;
  o.replicate.restore_snapshot = 99;
  try {
    instadump::setup(other.db(), o);
    FAIL("setup restored a snapshot the copy does not have");
  } catch (const instadump::replication_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("no replicated snapshot 99"));
  }
}

TEST_CASE("instadump restore rebuilds a directory from the newest or a chosen replicated snapshot",
          "[replication][restore][cli]") {
  test_util::fresh_session s;
  replicate_generations("restore-cli", 3);
  const std::string url = server().url();
  test_util::temp_dir scratch;
  const std::filesystem::path newest = scratch.path() / "newest";
  const std::filesystem::path second = scratch.path() / "second";

  clitest::program_result r = tool({"restore", url, "restore-cli", newest.string()}, scratch);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("restored replicated snapshot 3 of store \"restore-cli\""));
  CHECK(generation_in(newest) == 3);

  r = tool({"restore", url, "restore-cli", second.string(), "--snapshot", "2"}, scratch);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(generation_in(second) == 2);

  // Refusals: exit status 2, one line saying what is wrong, nothing written.
  r = tool({"restore", url, "restore-cli", newest.string()}, scratch);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("is not an empty directory"));
  const std::filesystem::path refused = scratch.path() / "refused";
  r = tool({"restore", url, "no-such-store", refused.string()}, scratch);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("no replicated store \"no-such-store\"") && Catch::Contains("restore-cli"));
  r = tool({"restore", url, "restore-cli", refused.string(), "--snapshot", "9"}, scratch);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("has no snapshot 9 (it has 1 .. 3"));
  CHECK_FALSE(std::filesystem::exists(refused));
}

TEST_CASE("instadump replication shows what PostgreSQL holds, who holds the lease, and how far a directory is behind",
          "[replication][lag][cli]") {
  test_util::fresh_session s;
  const std::string url = server().url();
  test_util::temp_dir scratch;
  instadump::setup_options o;
  o.replicate = replicate("lag-cli", instadump::replication::sync);
  instadump::setup(s.dir.db(), o);
  for (long g = 1; g <= 3; ++g) {
    set_generation(g);
    instadump::save_all();
  }
  // The writer runs: it holds the lease, and the directory is not behind.
  clitest::program_result r = tool({"replication", url, "lag-cli", s.dir.db().string()}, scratch);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("newest snapshot:  3, replicated"));
  CHECK_THAT(r.out, Catch::Contains("snapshots kept:   3 (1 .. 3)"));
  CHECK_THAT(r.out, Catch::Contains("lease:            held (epoch 1) by PostgreSQL backend") &&
                        Catch::Contains("application \"instadump\""));
  CHECK_THAT(r.out, Catch::Contains("replicated:       up to local snapshot 3 (replicated snapshot 3)"));
  CHECK_THAT(r.out, Catch::Contains("behind:           0 snapshots, 0 bytes"));
  instadump::shutdown();

  // Saved once more without replication: one snapshot behind, and the
  // lease is free.
  instadump::setup(s.dir.db());
  set_generation(4);
  instadump::save_all();
  instadump::shutdown();
  r = tool({"replication", url, "lag-cli", s.dir.db().string()}, scratch);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("lease:            free (epoch 1)"));
  CHECK_THAT(r.out, Catch::Contains("replicated:       up to local snapshot 3 (replicated snapshot 3)"));
  CHECK_THAT(r.out, Catch::Contains("behind:           1 snapshots, "));
  CHECK_THAT(r.out, !Catch::Contains("behind:           1 snapshots, 0 bytes"));

  // A directory restored from the copy is level with it.
  const std::filesystem::path restored = scratch.path() / "restored";
  REQUIRE(tool({"restore", url, "lag-cli", restored.string()}, scratch).exit_code == 0);
  r = tool({"replication", url, "lag-cli", restored.string()}, scratch);
  CHECK_THAT(r.out, Catch::Contains("replicated:       up to local snapshot 1 (replicated snapshot 3)"));
  CHECK_THAT(r.out, Catch::Contains("behind:           0 snapshots"));

  r = tool({"replication", url, "no-such-store"}, scratch);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("no replicated store \"no-such-store\""));
}

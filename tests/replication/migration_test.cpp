// Migrations apply to restored data as to local data: the eight releases
// of the evolution program (tests/evolution, check.h) each write one
// snapshot, replicated to PostgreSQL; then every replicated snapshot --
// written under the schema of its own release -- is restored into a fresh
// directory, by setup (restore_snapshot) and by `instadump restore`, and
// loaded and checked by the newest release, whose codecs migrate it.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "../persist/temp_dir.h"
#include "pg_server.h"
#include "programs.h"

namespace {

constexpr int kReleases = 8;

std::string evolve(int release) { return std::string(EVOLVE_DIR) + "/evolve_v" + std::to_string(release); }

// Runs release `release` on `dir` with replication to `store` (restoring
// replicated snapshot `restore` into an empty dir; 0: the newest).
clitest::program_result run_release(int release, const std::filesystem::path& dir, const std::string& command,
                                    const std::string& url, const std::string& store, int restore,
                                    const test_util::temp_dir& scratch) {
  const std::string replicate = url + " " + store + " " + std::to_string(restore);
  ::setenv("INSTADUMP_EVOLVE_REPLICATE", replicate.c_str(), 1);
  clitest::program_result r = clitest::run(evolve(release), {dir.string(), command}, scratch.path());
  ::unsetenv("INSTADUMP_EVOLVE_REPLICATE");
  return r;
}

}  // namespace

TEST_CASE("snapshots replicated by eight releases restore and load, migrated, in the newest",
          "[replication][restore][migration]") {
  pg_test::pg_server pg;
  const std::string url = pg.url();
  test_util::temp_dir scratch;
  test_util::temp_dir writer;
  for (int release = 1; release <= kReleases; ++release) {
    const clitest::program_result r = run_release(release, writer.db(), "write", url, "evolution", 0, scratch);
    INFO("v" << release << " write: " << r.out << r.err);
    REQUIRE(r.exit_code == 0);
  }
  // One replicated snapshot per release, in order.
  REQUIRE(pg.psql("select newest from instadump.stores where store = 'evolution'") == std::to_string(kReleases));

  for (int written_by = 1; written_by <= kReleases; ++written_by) {
    CAPTURE(written_by);
    const std::string expected = "of v" + std::to_string(written_by);
    // Through setup: the newest release restores the snapshot and loads it.
    test_util::temp_dir by_setup;
    clitest::program_result r = run_release(kReleases, by_setup.db(), "check", url, "evolution", written_by, scratch);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains(expected));

    // Through the tool, then loaded without replication.
    test_util::temp_dir by_tool;
    r = clitest::run(INSTADUMP_TOOL_PATH,
                     {"restore", url, "evolution", by_tool.db().string(), "--snapshot", std::to_string(written_by)},
                     scratch.path());
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    r = clitest::run(evolve(kReleases), {by_tool.db().string(), "check"}, scratch.path());
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains(expected));
  }
}

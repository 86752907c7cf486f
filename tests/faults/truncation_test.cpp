// A damaged file is an error, never a crash: data.mdb cut at 40 sizes across
// the file (a partial copy, a disk that filled during a copy or a restore),
// each opened by a fresh process, which either loads the intact state or
// throws a typed error -- truncated_store for every cut below the pages the
// store uses -- and is never killed by a signal (LMDB touching pages past
// the end of the file raised SIGBUS).
#include <catch2/catch.hpp>

#include <filesystem>
#include <set>
#include <string>

#include "../persist/temp_dir.h"
#include "child_process.h"
#include "storage/data_file_check.h"

namespace fs = std::filesystem;

TEST_CASE("data.mdb truncated at 40 sizes: a typed error or an intact load in a fresh process, never a signal",
          "[faults]") {
  test_util::temp_dir tmp;
  const fs::path source = tmp.path() / "source";
  const auto filled = faults::run_child({"fill", source.string(), "12"}, false);
  INFO("fill:\n" << filled.transcript());
  REQUIRE(filled.exited(0));
  const long generation = filled.last_acked();
  const auto header = instadump::storage::check_data_file(source);
  REQUIRE(header);
  const std::uint64_t size = header->file_bytes;
  const std::uint64_t needed = header->needed_bytes();
  REQUIRE(needed <= size);
  std::set<std::uint64_t> cuts{0, 100, 4096, 2 * std::uint64_t{header->page_size}, needed - 1, needed - 4096, needed,
                               size};
  for (std::uint64_t k = 1; cuts.size() < 40; ++k) cuts.insert(size * k / 37 / 8 * 8);
  int refused = 0, loaded = 0;
  for (const std::uint64_t cut : cuts) {
    INFO("data.mdb cut to " << cut << " of " << size << " bytes (the store uses " << needed << ")");
    const fs::path dir = tmp.path() / ("cut-" + std::to_string(cut));
    fs::create_directories(dir);
    fs::copy_file(source / "data.mdb", dir / "data.mdb");
    fs::resize_file(dir / "data.mdb", cut);
    const auto check = faults::run_child({"check", dir.string()}, false);
    INFO("check:\n" << check.transcript());
    REQUIRE(check.signal == 0);
    REQUIRE(!check.hung);
    // Below the header's last page a cut may remove only pages nothing uses
    // (LMDB leaves freed pages unwritten): then the store loads intact.
    if (cut >= needed || check.exited(0)) {
      REQUIRE(check.exited(0));
      CHECK(check.after("generation ") == std::vector<std::string>{std::to_string(generation)});
      ++loaded;
    } else {
      REQUIRE(check.exited(4));
      const auto errors = check.after("error truncated_store: ");
      REQUIRE(errors.size() == 1);
      CHECK_THAT(errors[0], Catch::Contains((dir / "data.mdb").string()) && Catch::Contains(std::to_string(cut)) &&
                                Catch::Contains("backup") && !Catch::Contains("empty directory"));
      ++refused;
    }
  }
  std::printf("truncations: %d refused with truncated_store, %d loaded intact, 0 signals\n", refused, loaded);
  CHECK(refused >= 30);
}

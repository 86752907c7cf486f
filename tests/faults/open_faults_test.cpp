// I/O errors on open are I/O errors: EIO injected (libfiu) into the reads,
// maps and opens of setup() on a healthy store -- one call or every call
// from one on, and short reads -- either load the intact state or fail with
// an error that says I/O failure, with the call and errno, and never calls
// the store "not an LMDB database" nor suggests starting over.
#include <catch2/catch.hpp>

#include <cerrno>
#include <string>

#include "../persist/temp_dir.h"
#include "child_process.h"
#include "fault_points.h"

TEST_CASE("injected read errors on open are reported as I/O failures, never as a foreign or empty store",
          "[faults]") {
  test_util::temp_dir tmp;
  const std::string dir = tmp.db().string();
  const auto filled = faults::run_child({"fill", dir, "5"}, false);
  INFO("fill:\n" << filled.transcript());
  REQUIRE(filled.exited(0));
  const std::string generation = std::to_string(filled.last_acked());
  std::vector<std::string> points = faults::read_points();
  points.push_back("posix/io/rw/pread/reduce");  // short reads
  int injected = 0, errors = 0, loads = 0;
  for (const auto& point : points) {
    for (int nth = 1; nth <= 6; ++nth) {
      for (const char* mode : {"once", "from"}) {
        INFO(point << " call " << nth << " " << mode);
        const auto run = faults::run_child({"open", dir, point, std::to_string(EIO), std::to_string(nth), mode}, true);
        INFO("open:\n" << run.transcript());
        REQUIRE(run.exited(0));
        const auto n = run.after("injected ");
        REQUIRE(n.size() == 1);
        injected += std::stoi(n[0]);
        const auto error = run.after("error ");
        if (error.empty()) {
          CHECK(run.after("loaded ") == std::vector<std::string>{generation});
          ++loads;
          continue;
        }
        ++errors;
        CHECK_THAT(error[0], !Catch::Contains("not an LMDB database") && !Catch::Contains("empty directory") &&
                                 !Catch::Contains("untyped"));
        CHECK_THAT(error[0], Catch::Contains("I/O") || Catch::Contains("errno") ||
                                 Catch::Contains("Input/output error"));
      }
    }
  }
  // Nothing the faults did changed the store.
  const auto check = faults::run_child({"check", dir}, false);
  INFO("check:\n" << check.transcript());
  CHECK(check.after("generation ") == std::vector<std::string>{generation});
  std::printf("open under read faults: %d faults injected, %d opens failed as I/O errors, %d loaded intact\n",
              injected, errors, loads);
  CHECK(injected > 0);
  CHECK(errors > 0);
}

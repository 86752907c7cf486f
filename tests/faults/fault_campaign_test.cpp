// The fault campaign: EIO and ENOSPC injected for real (libfiu's POSIX
// preload library) into the writes, flushes, maps and opens of every path a
// save takes -- a snapshot written into data.mdb directly, a journaled one,
// the background writer moving the journal into data.mdb, setup's replay of
// a journal, autosave -- one fresh process per case. For every case: the
// process neither crashes nor hangs, a failed save throws save_failed (or
// autosave reports it to its callback), the next save succeeds once the
// fault has cleared (after reopening when the error says so), and a fresh
// process loads a consistent state no older than the last acknowledged save.
//
// The short campaign (every point, both errors) runs in ctest; scripts/soak
// runs random cases: INSTADUMP_FAULT_CASES=<n> [INSTADUMP_FAULT_SEED=<s>].
// The counts are printed per path.
#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "../persist/temp_dir.h"
#include "child_process.h"
#include "fault_points.h"

namespace {

struct fault_case {
  std::string path;
  faults::fault_plan plan;
  bool crash_after = false;  // exit right after the fault instead of recovering in the process
};

struct path_counts {
  int cases = 0;
  int cases_hit = 0;         // cases whose fault was injected at least once
  int faults_injected = 0;
  int saves_failed = 0;      // failures reported cleanly (save_failed, autosave's callback, setup's error)
  int recovered_direct = 0;  // the next save succeeded in the same process
  int recovered_reopened = 0;
  int snapshots_lost = 0;
};

std::map<std::string, path_counts>& counts() {
  static std::map<std::string, path_counts> c;
  return c;
}

std::string errno_name(int e) { return e == EIO ? "EIO" : e == ENOSPC ? "ENOSPC" : std::to_string(e); }

std::string describe(const fault_case& c) {
  return c.path + " " + c.plan.point + " " + errno_name(c.plan.error) + " call " + std::to_string(c.plan.nth) +
         (c.plan.once ? " once" : " onwards") + (c.crash_after ? ", then exit" : ", then recover");
}

int total(const faults::child_outcome& o, const std::string& prefix) {
  int n = 0;
  for (const auto& v : o.after(prefix)) n += std::atoi(v.c_str());
  return n;
}

// Runs one case in fresh processes and checks every promise.
void run_case(const fault_case& c) {
  INFO("case: " << describe(c));
  test_util::temp_dir tmp;
  const std::string dir = tmp.db().string();
  long acked = 0;
  if (c.path == "replay") {
    const auto prepared = faults::run_child({"journal-only", dir}, false);
    INFO("journal-only:\n" << prepared.transcript());
    REQUIRE(prepared.exited(0));
    acked = prepared.last_acked();
    REQUIRE(acked > 0);
  }
  const auto run = faults::run_child({"run", dir, c.path, c.plan.point, std::to_string(c.plan.error),
                                      std::to_string(c.plan.nth), c.plan.once ? "once" : "from",
                                      c.crash_after ? "crash" : "recover"},
                                     true);
  INFO("run:\n" << run.transcript());
  REQUIRE(!run.hung);
  REQUIRE(run.signal == 0);
  REQUIRE(run.exited(0));
  acked = std::max(acked, run.last_acked());
  path_counts& k = counts()[c.path];
  ++k.cases;
  const int injected = total(run, "injected ");
  k.faults_injected += injected;
  if (injected > 0) ++k.cases_hit;
  k.saves_failed += static_cast<int>(run.after("failed ").size());
  if (!c.crash_after) {
    const bool direct = !run.after("recovered direct").empty();
    const bool reopened = !run.after("recovered reopened").empty();
    REQUIRE((direct || reopened));
    k.recovered_direct += direct;
    k.recovered_reopened += reopened;
  } else {
    const auto recovered = faults::run_child({"recover", dir}, false);
    INFO("recover:\n" << recovered.transcript());
    REQUIRE(recovered.exited(0));
    acked = std::max(acked, recovered.last_acked());
    ++k.recovered_reopened;
  }
  const auto check = faults::run_child({"check", dir}, false);
  INFO("check:\n" << check.transcript());
  const auto loaded = check.after("generation ");
  const bool intact = check.exited(0) && loaded.size() == 1 && std::atol(loaded[0].c_str()) >= acked;
  if (!intact) ++k.snapshots_lost;
  REQUIRE(intact);
}

void print_counts(const char* title) {
  std::printf("\n%s\n%-9s %6s %10s %9s %12s %10s %10s %6s\n", title, "path", "cases", "cases hit", "injected",
              "saves failed", "recovered", "reopened", "lost");
  for (const auto& [path, k] : counts()) {
    std::printf("%-9s %6d %10d %9d %12d %10d %10d %6d\n", path.c_str(), k.cases, k.cases_hit, k.faults_injected,
                k.saves_failed, k.recovered_direct, k.recovered_reopened, k.snapshots_lost);
  }
  std::fflush(stdout);
}

// Every write point with both errors: EIO on its first call, ENOSPC on every call;
// every third case exits right after the fault instead of recovering.
std::vector<fault_case> short_campaign(const std::string& path) {
  std::vector<std::string> points = faults::write_points();
  if (path == "replay") {
    for (const auto& p : faults::read_points()) points.push_back(p);
  }
  std::vector<fault_case> cases;
  int i = 0;
  for (const auto& point : points) {
    for (const bool eio : {true, false}) {
      fault_case c{path, {point, eio ? EIO : ENOSPC, 1, eio}, (i++ % 3) == 2};
      cases.push_back(c);
    }
  }
  return cases;
}

// Random cases; three in four at the calls a save path makes most (LMDB's
// pwrite/writev, the journal's pwritev, everyone's fdatasync; setup's reads
// and opens), the rest anywhere.
std::vector<fault_case> random_campaign(const std::string& path, int n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::string> points = faults::write_points();
  std::vector<std::string> hot{"posix/io/rw/pwrite", "posix/io/rw/writev", "posix/io/rw/pwritev",
                               "posix/io/sync/fdatasync"};
  if (path == "replay") {
    for (const auto& p : faults::read_points()) points.push_back(p);
    for (const char* p : {"posix/io/rw/pread", "posix/io/oc/open", "posix/mm/mmap"}) hot.push_back(p);
  }
  std::vector<fault_case> cases;
  for (int i = 0; i < n; ++i) {
    fault_case c;
    c.path = path;
    const auto& from = rng() % 4 != 0 ? hot : points;
    c.plan.point = from[rng() % from.size()];
    c.plan.error = rng() % 2 ? EIO : ENOSPC;
    c.plan.nth = 1 + static_cast<int>(rng() % 3);
    c.plan.once = rng() % 2;
    c.crash_after = rng() % 3 == 0;
    cases.push_back(c);
  }
  return cases;
}

void campaign(const std::string& path) {
  std::vector<fault_case> cases;
  if (const char* n = std::getenv("INSTADUMP_FAULT_CASES")) {
    const char* seed = std::getenv("INSTADUMP_FAULT_SEED");
    cases = random_campaign(path, std::atoi(n), seed ? static_cast<unsigned>(std::atol(seed)) : 2112u);
  } else {
    cases = short_campaign(path);
  }
  for (const auto& c : cases) run_case(c);
  print_counts(("fault campaign, save path \"" + path + "\"").c_str());
  const path_counts& k = counts()[path];
  CHECK(k.snapshots_lost == 0);
  CHECK(k.faults_injected > 0);  // the campaign reached this path's calls at all
  CHECK(k.saves_failed > 0);
}

}  // namespace

TEST_CASE("faults in a snapshot written into data.mdb directly fail the save cleanly and lose nothing",
          "[faults]") {
  campaign("direct");
}

TEST_CASE("faults in a journaled snapshot fail the save cleanly and lose nothing", "[faults]") { campaign("journal"); }

TEST_CASE("faults in the background writer moving the journal into data.mdb lose nothing", "[faults]") {
  campaign("applier");
}

TEST_CASE("faults in setup's replay of a journal fail setup cleanly and lose nothing", "[faults]") {
  campaign("replay");
}

TEST_CASE("faults in an autosave reach its callback and lose nothing", "[faults]") { campaign("autosave"); }

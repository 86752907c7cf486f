// A real full disk: the store on an 8 MiB tmpfs (mounted in a private mount
// namespace, so nothing outlives the test), a file filling it, and a save of
// a value larger than the room left. The save fails cleanly saying that the
// filesystem is full and where (not "Input/output error"), the store
// recovers once the file is removed, and a fresh process loads the newest
// acknowledged state. Skipped, with a message, where mounting is not allowed.
#include <catch2/catch.hpp>

#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "../persist/temp_dir.h"
#include "child_process.h"

namespace {

constexpr int kCannotMount = 77;

// In a forked child: a private mount namespace with a tmpfs on `mount_point`,
// where the "full" and "check" runs write their transcripts to `report`.
[[noreturn]] void run_on_tmpfs(const std::string& mount_point, const std::string& report) {
  if (::unshare(CLONE_NEWNS) != 0) ::_exit(kCannotMount);
  if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(kCannotMount);
  if (::mount("tmpfs", mount_point.c_str(), "tmpfs", 0, "size=8m,mode=0700") != 0) ::_exit(kCannotMount);
  const std::string dir = mount_point + "/db";
  const auto full = faults::run_child({"full", dir, mount_point + "/ballast"}, false);
  const auto check = faults::run_child({"check", dir}, false);
  std::ofstream out(report);
  out << "full " << (full.exited(0) ? "ok" : "bad") << " " << full.last_acked() << "\n";
  for (const auto& l : full.lines) out << "| " << l << "\n";
  out << "check " << (check.exited(0) ? "ok" : "bad") << "\n";
  for (const auto& l : check.lines) out << "| " << l << "\n";
  out.close();
  ::_exit(0);
}

}  // namespace

TEST_CASE("a real full disk: the save fails saying the disk is full and where, and the store recovers",
          "[faults]") {
  test_util::temp_dir tmp;
  const std::string mount_point = (tmp.path() / "small-disk").string();
  const std::string report = (tmp.path() / "report").string();
  std::filesystem::create_directories(mount_point);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) run_on_tmpfs(mount_point, report);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  if (WEXITSTATUS(status) == kCannotMount) {
    WARN("skipped: this machine does not allow mounting a tmpfs in a private mount namespace (needs root or "
         "CAP_SYS_ADMIN)");
    return;
  }
  REQUIRE(WEXITSTATUS(status) == 0);
  std::ifstream in(report);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  INFO(text);
  CHECK_THAT(text, Catch::Contains("full ok") && Catch::Contains("check ok"));
  // The failed save names the full filesystem and the store's directory.
  CHECK_THAT(text, Catch::Contains("failed save_failed: ") && Catch::Contains("is full") &&
                       Catch::Contains(mount_point + "/db") && Catch::Contains("free space there"));
  CHECK_THAT(text, Catch::Contains("| recovered "));
  // A fresh process loads the newest acknowledged state.
  const auto acked = text.find("full ok ");
  const auto loaded = text.find("| generation ");
  REQUIRE(acked != std::string::npos);
  REQUIRE(loaded != std::string::npos);
  CHECK(std::stol(text.substr(loaded + 13)) >= std::stol(text.substr(acked + 8)));
  std::printf("%s", text.c_str());
}

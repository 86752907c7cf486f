// Restart and crash consistency for real: child processes save, exit or are
// killed with SIGKILL at random moments, and new processes load.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "temp_dir.h"

import instadump;

namespace {

struct child_result {
  int status;
  std::string out;
};

// Runs persist_child with `args` to completion and captures its stdout.
child_result run_child(const std::vector<std::string>& args) {
  std::string cmd = PERSIST_CHILD_PATH;
  for (const auto& a : args) cmd += " '" + a + "'";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// A running child whose stdout we read line by line.
class running_child {
 public:
  explicit running_child(const std::vector<std::string>& args) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      dup2(fds[1], 1);
      close(fds[0]);
      close(fds[1]);
      std::vector<char*> argv{const_cast<char*>(PERSIST_CHILD_PATH)};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(PERSIST_CHILD_PATH, argv.data());
      _exit(127);
    }
    close(fds[1]);
    fd_ = fds[0];
  }
  ~running_child() {
    if (pid_ > 0) kill_now();
    if (fd_ >= 0) close(fd_);
  }
  // Reads what is available for up to `ms`; returns the complete lines.
  std::vector<std::string> read_lines(int ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    std::vector<std::string> lines;
    for (;;) {
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      deadline - std::chrono::steady_clock::now())
                                      .count());
      if (left < 0) left = 0;
      pollfd pfd{fd_, POLLIN, 0};
      if (poll(&pfd, 1, left) <= 0) break;
      char buf[4096];
      ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) break;
      pending_.append(buf, static_cast<std::size_t>(n));
      take_lines(lines);
      if (left == 0) break;
    }
    return lines;
  }
  // Waits for the child to exit; returns its exit code (-1: killed).
  int wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  void kill_now() {
    kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  // After the child is dead: the lines it wrote before dying.
  std::vector<std::string> drain() {
    std::vector<std::string> lines;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd_, buf, sizeof buf)) > 0) pending_.append(buf, static_cast<std::size_t>(n));
    take_lines(lines);
    return lines;
  }

 private:
  void take_lines(std::vector<std::string>& lines) {
    std::size_t nl;
    while ((nl = pending_.find('\n')) != std::string::npos) {
      lines.push_back(pending_.substr(0, nl));
      pending_.erase(0, nl + 1);
    }
  }
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string pending_;
};

long last_saved(const std::vector<std::string>& lines, long so_far) {
  for (const auto& l : lines) {
    if (l.rfind("saved ", 0) == 0) so_far = std::max(so_far, std::atol(l.c_str() + 6));
  }
  return so_far;
}

// Runs `loop_mode` children and kills each at a random moment, `iterations`
// times; after each, a `check_mode` child must load one whole snapshot
// ("generation <g>") no older than the last one a child reported saved.
void kill_and_check(const std::string& loop_mode, const std::string& check_mode, int iterations) {
  test_util::temp_dir dir;
  std::mt19937 rng(12345);
  long reported = 0;
  for (int i = 0; i < iterations; ++i) {
    running_child child({loop_mode, dir.db().string()});
    // Let it get into its save loop (slow starts, e.g. under sanitizers, must
    // not turn this into a test of killing idle processes), then kill it at a
    // random moment.
    std::vector<std::string> lines;
    for (int waited = 0; waited < 200 && last_saved(lines, 0) == 0; ++waited) {
      auto more = child.read_lines(50);
      lines.insert(lines.end(), more.begin(), more.end());
    }
    REQUIRE(last_saved(lines, 0) > 0);
    auto more = child.read_lines(static_cast<int>(rng() % 25));
    lines.insert(lines.end(), more.begin(), more.end());
    child.kill_now();
    auto rest = child.drain();
    lines.insert(lines.end(), rest.begin(), rest.end());
    for (const auto& l : lines) INFO(l);
    reported = last_saved(lines, reported);

    auto check = run_child({check_mode, dir.db().string()});
    INFO("iteration " << i << ": " << check.out);
    REQUIRE(check.status == 0);
    long loaded = std::atol(check.out.c_str() + std::string("generation ").size());
    REQUIRE(loaded >= reported);  // no snapshot the child reported as saved is lost
    reported = loaded;
  }
  CHECK(reported >= iterations);  // every child saved at least once
}

int crash_iterations(int otherwise) {
  const char* env = std::getenv("INSTADUMP_CRASH_ITERATIONS");
  return env ? std::atoi(env) : otherwise;
}

}  // namespace

TEST_CASE("values survive a restart", "[persist][process]") {
  test_util::temp_dir dir;
  auto first = run_child({"print", dir.db().string()});
  CHECK(first.out == "150 abc\n");
  auto saved = run_child({"save", dir.db().string(), "1000", "xyz"});
  CHECK(saved.status == 0);
  auto second = run_child({"print", dir.db().string()});
  CHECK(second.out == "1000 xyz\n");
}

TEST_CASE("autosave saves at normal exit, and a new process loads it", "[persist][process]") {
  test_util::temp_dir dir;
  auto exited = run_child({"autosave-exit", dir.db().string(), "77", "at-exit"});
  CHECK(exited.status == 0);
  CHECK(exited.out.empty());  // no error, and no save_all()
  CHECK(run_child({"print", dir.db().string()}).out == "77 at-exit\n");
}

TEST_CASE("a second process cannot open the directory for writing", "[persist][process]") {
  test_util::temp_dir dir;
  running_child holder({"hold", dir.db().string()});
  auto lines = holder.read_lines(5000);
  REQUIRE(lines == std::vector<std::string>{"ready"});
  auto second = run_child({"print", dir.db().string()});
  CHECK(second.status == 1);
  CHECK_THAT(second.out, Catch::Contains("error:") && Catch::Contains(dir.db().string()));
  try {
    instadump::setup(dir.db());
    FAIL("expected locked_by_other_process");
  } catch (const instadump::locked_by_other_process&) {
  }
  holder.kill_now();
  CHECK(run_child({"print", dir.db().string()}).status == 0);  // the lock died with the holder
}

TEST_CASE("two read-only sessions beside a saving writer catch up with reload_all, whole and in order",
          "[persist][process]") {
  test_util::temp_dir dir;
  running_child writer({"crash-loop", dir.db().string()});
  long saved = 0;
  while (saved == 0) {
    const auto lines = writer.read_lines(1000);
    REQUIRE(!lines.empty());  // (the writer is alive and saving)
    saved = last_saved(lines, saved);
  }
  // Each reader loads the newest snapshot again and again until it has seen
  // a generation the writer saves well after it started, checking each load.
  const std::string target = std::to_string(saved + 300);
  running_child first({"read-loop", dir.db().string(), target});
  running_child second({"read-loop", dir.db().string(), target});
  const int first_status = first.wait();
  const int second_status = second.wait();
  const auto first_out = first.drain();
  const auto second_out = second.drain();
  std::string said;
  for (const auto& l : first_out) said += "first reader: " + l + "\n";
  for (const auto& l : second_out) said += "second reader: " + l + "\n";
  INFO(said);
  CHECK(first_status == 0);
  CHECK(second_status == 0);
  REQUIRE(first_out.size() == 1);
  CHECK(first_out[0].rfind("read ", 0) == 0);
  REQUIRE(second_out.size() == 1);
  CHECK(second_out[0].rfind("read ", 0) == 0);
  // The writer went on saving beside them all along.
  CHECK(last_saved(writer.read_lines(1000), 0) > saved);
  writer.kill_now();
}

TEST_CASE("killed at random moments, the directory always holds one complete snapshot", "[persist][process]") {
  kill_and_check("crash-loop", "check", crash_iterations(200));
}

TEST_CASE("killed while saving a pmap state node by node, it loads one whole acknowledged snapshot",
          "[persist][process][chunks]") {
  // Journaled saves (a few entries) and direct ones (every 5th, with a text
  // too big for the journal) of a 40,000-entry map: deltas on its tree, and
  // every 65th a fold into a new tree (chunk_deltas).
  kill_and_check("chunked-loop", "chunked-check", crash_iterations(200) / 5);
}

TEST_CASE("a chunked save left in the journal by a killed process is replayed by the next setup",
          "[persist][process][chunks]") {
  test_util::temp_dir dir;
  {
    running_child first({"chunked-loop", dir.db().string()});
    std::vector<std::string> lines;
    for (int waited = 0; waited < 200 && last_saved(lines, 0) < 3; ++waited) {
      auto more = first.read_lines(50);
      lines.insert(lines.end(), more.begin(), more.end());
    }
    REQUIRE(last_saved(lines, 0) >= 3);
  }  // (killed)
  auto before = run_child({"chunked-check", dir.db().string()});
  REQUIRE(before.status == 0);
  const long g = std::atol(before.out.c_str() + std::string("generation ").size());
  // The child holds the journal's applier: its save stays in journal.log only.
  running_child journaled({"chunked-journal", dir.db().string()});
  std::vector<std::string> lines;
  for (int waited = 0; waited < 200 && lines.empty(); ++waited) lines = journaled.read_lines(50);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].rfind("saved " + std::to_string(g + 1) + " (", 0) == 0);
  CHECK(lines[0].find("(0 chunks)") == std::string::npos);  // it wrote chunks
  journaled.kill_now();
  auto after = run_child({"chunked-check", dir.db().string()});
  INFO(after.out);
  CHECK(after.status == 0);
  CHECK(after.out == "generation " + std::to_string(g + 1) + "\n");
}

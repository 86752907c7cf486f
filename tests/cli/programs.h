// Running the `instadump` tool and the cli_states program from the tests:
// a program's exit status, stdout and stderr; a writer in the background.
#pragma once

#include <signal.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace clitest {

struct program_result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Starts `path args...` with stdout and stderr redirected to files (or
// /dev/null when empty); returns its pid.
inline pid_t start(const std::string& path, const std::vector<std::string>& args, const std::string& out_file = {},
                   const std::string& err_file = {}) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_file.empty() ? "/dev/null" : out_file.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_file.empty() ? "/dev/null" : err_file.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(path.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, path.c_str(), &actions, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

inline int wait_for(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Runs `path args...` to its end.
inline program_result run(const std::string& path, const std::vector<std::string>& args,
                          const std::filesystem::path& scratch) {
  const std::string out = (scratch / "stdout.txt").string();
  const std::string err = (scratch / "stderr.txt").string();
  program_result r;
  const pid_t pid = start(path, args, out, err);
  if (pid < 0) return r;
  r.exit_code = wait_for(pid);
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

inline program_result tool(const std::vector<std::string>& args, const std::filesystem::path& scratch) {
  return run(INSTADUMP_TOOL_PATH, args, scratch);
}

// A program running in the background until the object dies (SIGKILL).
class background {
 public:
  background(const std::string& path, const std::vector<std::string>& args) : pid_(start(path, args)) {}
  ~background() { stop(); }
  background(const background&) = delete;
  background& operator=(const background&) = delete;
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    wait_for(pid_);
    pid_ = -1;
  }
  bool started() const { return pid_ > 0; }

 private:
  pid_t pid_;
};

}  // namespace clitest

// A running replication_child (its path: REPLICATION_CHILD_PATH, set by the
// build) and the lines it prints on stdout, for the tests that run writers,
// standbys and readers as processes of their own.
#pragma once

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace replication_test {

// A running replication_child and the lines it prints.
class child {
 public:
  explicit child(const std::vector<std::string>& args) {
    int out[2];
    REQUIRE(pipe2(out, O_CLOEXEC) == 0);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      dup2(out[1], 1);
      std::vector<char*> argv;
      std::string path = REPLICATION_CHILD_PATH;
      argv.push_back(path.data());
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    fd_ = out[0];
  }
  ~child() {
    kill();
    close(fd_);
  }
  child(const child&) = delete;
  child& operator=(const child&) = delete;

  // The next line, or "" at end of output or after 60 s (a hang: liveness,
  // not a performance threshold).
  std::string line() {
    for (;;) {
      if (auto nl = buf_.find('\n'); nl != std::string::npos) {
        std::string l = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return l;
      }
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 60'000) <= 0) return "";
      char b[4096];
      ssize_t n = read(fd_, b, sizeof b);
      if (n <= 0) return "";
      buf_.append(b, static_cast<std::size_t>(n));
    }
  }
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string buf_;
};

// The number after `word ` at the start of `line`, or -1.
inline long number_after(const std::string& line, const std::string& word) {
  if (line.rfind(word + " ", 0) != 0) return -1;
  return std::stol(line.substr(word.size() + 1));
}

}  // namespace replication_test

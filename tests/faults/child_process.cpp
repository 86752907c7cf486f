// Running fault_child and collecting what it says (see child_process.h).
#include "child_process.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>

namespace faults {

std::string child_path() { return FAULT_CHILD_PATH; }
std::string preload_path() { return FIU_POSIX_PRELOAD; }

std::string child_outcome::transcript() const {
  std::string text;
  for (const auto& l : lines) text += "  | " + l + "\n";
  text += hung ? "  (hung: killed)" : signal ? "  (killed by signal " + std::to_string(signal) + ")"
                                             : "  (exit " + std::to_string(exit_code) + ")";
  return text;
}

std::vector<std::string> child_outcome::after(const std::string& prefix) const {
  std::vector<std::string> found;
  for (const auto& l : lines) {
    if (l.rfind(prefix, 0) == 0) found.push_back(l.substr(prefix.size()));
  }
  return found;
}

long child_outcome::last_acked() const {
  long last = 0;
  for (const auto& a : after("acked ")) last = std::max(last, std::atol(a.c_str()));
  return last;
}

namespace {

[[noreturn]] void exec_child(const std::vector<std::string>& args, bool with_faults, int out_fd) {
  ::dup2(out_fd, 1);
  if (with_faults) {
    ::setenv("LD_PRELOAD", preload_path().c_str(), 1);
    // Sanitizer runtimes want to come first; the preload library comes first here.
    std::string asan = "verify_asan_link_order=0";
    if (const char* old = std::getenv("ASAN_OPTIONS")) asan = std::string(old) + ":" + asan;
    ::setenv("ASAN_OPTIONS", asan.c_str(), 1);
  }
  std::vector<char*> argv;
  const std::string path = child_path();
  argv.push_back(const_cast<char*>(path.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execv(path.c_str(), argv.data());
  ::_exit(127);
}

}  // namespace

child_outcome run_child(const std::vector<std::string>& args, bool with_faults, int deadline_s) {
  child_outcome out;
  int fds[2];
  if (::pipe(fds) != 0) return out;
  const pid_t pid = ::fork();
  if (pid < 0) return out;
  if (pid == 0) {
    ::close(fds[0]);
    exec_child(args, with_faults, fds[1]);
  }
  ::close(fds[1]);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(deadline_s);
  std::string pending;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      out.hung = true;
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd pfd{fds[0], POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    pending.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!out.hung && WIFSIGNALED(status)) out.signal = WTERMSIG(status);
  if (WIFEXITED(status)) out.exit_code = WEXITSTATUS(status);
  for (std::size_t start = 0; start < pending.size();) {
    std::size_t nl = pending.find('\n', start);
    if (nl == std::string::npos) nl = pending.size();
    out.lines.push_back(pending.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

}  // namespace faults

// pg_server (pg_server.h): a PostgreSQL cluster of a test's own.
#include "pg_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

namespace pg_test {
namespace {

// The user PostgreSQL runs as when the tests run as root; nullptr when they
// do not (then it runs as the tests' own user).
const passwd* server_user() {
  if (geteuid() != 0) return nullptr;
  const char* name = std::getenv("INSTADUMP_PG_USER");
  if (!name || !*name) name = "instadump-pg";
  const passwd* pw = getpwnam(name);
  if (!pw) {
    throw std::runtime_error(std::string("pg_server: running as root, and PostgreSQL refuses root, but there is no "
                                         "user '") + name + "' to run it as: run scripts/install-deps (or set "
                                         "INSTADUMP_PG_USER)");
  }
  return pw;
}

// In a forked child: become the server's user (when running as root).
void drop_root(const passwd* pw) {
  if (!pw) return;
  if (setgroups(0, nullptr) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) _exit(126);
}

void give_to_server_user(const std::filesystem::path& p) {
  if (const passwd* pw = server_user()) {
    if (chown(p.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      throw std::runtime_error("pg_server: cannot chown " + p.string());
    }
  }
}

// Runs argv to completion (as the server's user when `as_server`), its
// output into `log` (appended) or captured and returned. Throws when it
// fails.
std::string run(const std::vector<std::string>& argv, bool as_server, const std::filesystem::path* log = nullptr) {
  const passwd* pw = as_server ? server_user() : nullptr;
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pg_server: pipe failed");
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("pg_server: fork failed");
  if (pid == 0) {
    drop_root(pw);
    int fd = out[1];
    if (log) fd = open(log->c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    if (chdir("/") != 0) _exit(126);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  std::string output;
  char buf[4096];
  for (ssize_t n; (n = read(out[0], buf, sizeof buf)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    output.append(buf, static_cast<std::size_t>(n));
  }
  close(out[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string what = "pg_server: " + argv[0] + " failed (status " + std::to_string(status) + ")";
    if (log) what += "; see " + log->string();
    throw std::runtime_error(what + ": " + output);
  }
  return output;
}

std::filesystem::path make_root() {
  std::string pattern = (std::filesystem::temp_directory_path() / "instadump-pg-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("pg_server: mkdtemp failed");
  give_to_server_user(pattern);
  return pattern;
}

// A TCP port on 127.0.0.1 that nothing listens on right now.
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) close(fd);
    throw std::runtime_error("pg_server: cannot find a free port");
  }
  close(fd);
  return ntohs(addr.sin_port);
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::string bindir() {
  if (const char* d = std::getenv("INSTADUMP_PG_BINDIR"); d && *d) return d;
#ifdef INSTADUMP_PG_BINDIR
  return INSTADUMP_PG_BINDIR;
#else
  return "/usr/lib/postgresql/15/bin";
#endif
}

pg_server::pg_server() : pg_server(cluster_options{}) {}

pg_server::pg_server(cluster_options options)
    : root_(make_root()), data_(root_ / "data"), port_(options.first_port ? options.first_port : free_port()),
      options_(std::move(options)) {
  try {
    run({bindir() + "/initdb", "-D", data_.string(), "-U", "postgres", "--auth=trust", "--no-sync",
         "--encoding=UTF8", "--locale=C"},
        true, nullptr);
    if (!options_.conf_lines.empty()) {
      std::ofstream conf(data_ / "postgresql.conf", std::ios::app);
      for (const auto& line : options_.conf_lines) conf << line << "\n";
    }
    start_on_a_free_port();
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
    throw;
  }
}

pg_server::pg_server(adopt_tag, std::filesystem::path root, int port, cluster_options options)
    : root_(std::move(root)), data_(root_ / "data"), port_(port), options_(std::move(options)) {}

pg_server pg_server::standby_of(const pg_server& primary, const std::string& application_name) {
  pg_server standby(adopt_tag{}, make_root(), free_port(), {});
  run({bindir() + "/pg_basebackup", "-D", standby.data_.string(), "-R", "-X", "stream", "--no-sync", "-d",
       "host=127.0.0.1 port=" + std::to_string(primary.port_) + " user=postgres application_name=" +
           application_name},
      true, nullptr);
  {
    std::ofstream conf(standby.data_ / "postgresql.conf", std::ios::app);
    conf << "cluster_name = '" << application_name << "'\n";
  }
  standby.start_on_a_free_port();
  return standby;
}

pg_server::pg_server(pg_server&& other) noexcept
    : root_(std::move(other.root_)), data_(std::move(other.data_)), port_(other.port_),
      options_(std::move(other.options_)), pid_(std::exchange(other.pid_, -1)) {
  other.root_.clear();
}

pg_server::~pg_server() {
  if (root_.empty()) return;
  try {
    stop();
  } catch (...) {
    kill();
  }
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
}

std::string pg_server::url() const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/postgres";
}

void pg_server::start() {
  if (pid_ > 0) return;
  const passwd* pw = server_user();
  std::filesystem::path log = root_ / "postgres.log";
  std::vector<std::string> argv = {bindir() + "/postgres", "-D", data_.string(), "-p", std::to_string(port_),
                                   "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" +
                                   root_.string(), "-c", "fsync=off", "-c", "max_connections=60"};
  for (const auto& s : options_.settings) {
    argv.push_back("-c");
    argv.push_back(s);
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("pg_server: fork failed");
  if (pid == 0) {
    setpgid(0, 0);  // its own group, so kill() reaches every backend
    drop_root(pw);
    // After setuid (a change of credentials clears it): when the test
    // process dies, the postmaster shuts down at once.
    prctl(PR_SET_PDEATHSIG, SIGQUIT);
    if (getppid() != parent) _exit(1);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  setpgid(pid, pid);
  pid_ = pid;
  wait_until_ready();
}

void pg_server::start_on_a_free_port() {
  // The port free_port() found may be taken before the postmaster binds it:
  // by another test process's server, or as the local port of some client's
  // connection. The postmaster then exits ("Address already in use"), and a
  // first start simply tries another port. (A restart keeps its port: the
  // URL the test handed out names it.)
  for (int attempt = 1;; ++attempt) {
    try {
      start();
      return;
    } catch (const port_taken&) {
      if (attempt == 5) throw;
      port_ = free_port();
    }
  }
}

void pg_server::wait_until_ready() {
  // Asked through the Unix socket in this server's own directory, so that the
  // answer is this postmaster's. Over TCP, another test's server that holds
  // the same port would answer; this one would have exited, unnoticed, and
  // the test would go on against a server that is not its own. (The
  // postmaster binds its TCP address before it creates the Unix socket, and
  // exits when the bind fails: ready here means it listens on port_.)
  std::string conninfo = "host=" + root_.string() + " port=" + std::to_string(port_) +
                         " user=postgres dbname=postgres connect_timeout=2";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (PQping(conninfo.c_str()) != PQPING_OK) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      const std::string log = read_file(root_ / "postgres.log");
      if (log.find("Address already in use") != std::string::npos) {
        // Only this start's lines matter: the log is appended to.
        std::filesystem::rename(root_ / "postgres.log", root_ / ("postgres.log.port" + std::to_string(port_)));
        throw port_taken("pg_server: port " + std::to_string(port_) + " was taken: " + log);
      }
      throw std::runtime_error("pg_server: postgres exited while starting: " + log);
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill();
      throw std::runtime_error("pg_server: postgres did not accept connections within 60 s: " +
                               read_file(root_ / "postgres.log"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void pg_server::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGINT);  // fast shutdown
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {}
  pid_ = -1;
}

void pg_server::kill() {
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {}
  pid_ = -1;
  // The backends of the group are reparented and reaped by init; wait until
  // the port is free and the shared memory gone before a restart.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

std::string pg_server::psql(const std::string& sql) const { return run_psql("-c", sql); }

std::string pg_server::psql_file(const std::filesystem::path& file) const { return run_psql("-f", file.string()); }

std::string pg_server::run_psql(const std::string& flag, const std::string& argument) const {
  std::string out = run({bindir() + "/psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d",
                         "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=postgres", flag,
                         argument},
                        false);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace pg_test

// A PostgreSQL 15 server of a test's own: a fresh cluster (initdb) in a
// temporary directory, listening only on 127.0.0.1 on a free port, with its
// Unix socket in the same directory. Stopped (and its directory removed) by
// the destructor -- also when a test fails -- and, should the test process
// die without running it, by the kernel: the postmaster is started with
// PR_SET_PDEATHSIG, so it shuts down at once when the process that started
// it ends.
//
// PostgreSQL refuses to run as root: when the tests run as root, initdb and
// the postmaster run as the unprivileged user INSTADUMP_PG_USER (default
// "instadump-pg", created by scripts/install-deps).
//
// Plain C++ (no test macros); failures throw std::runtime_error.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace pg_test {

class pg_server {
 public:
  // What the cluster is made from: empty = a fresh cluster (initdb); else
  // the directory of an existing one, such as pg_basebackup's copy.
  struct cluster_options {
    // Extra `-c name=value` settings for the postmaster.
    std::vector<std::string> settings;
    // Lines added to postgresql.conf (e.g. synchronous_standby_names).
    std::vector<std::string> conf_lines;
    // The port to try first; 0 = one nothing listens on right now. (Tests of
    // the fixture use it to hand over a port that is taken.)
    int first_port = 0;
  };

  // initdb + start. Throws when the binaries are missing or start fails.
  pg_server();
  explicit pg_server(cluster_options options);
  // A streaming standby of `primary` (pg_basebackup -R), started.
  static pg_server standby_of(const pg_server& primary, const std::string& application_name);
  // Stops the postmaster (fast shutdown) and removes the directory.
  ~pg_server();
  pg_server(pg_server&& other) noexcept;
  pg_server(const pg_server&) = delete;
  pg_server& operator=(const pg_server&) = delete;
  pg_server& operator=(pg_server&&) = delete;

  // A libpq connection URI for the database "postgres" as superuser.
  std::string url() const;
  int port() const { return port_; }
  const std::filesystem::path& data_dir() const { return data_; }

  // Stops the postmaster (fast shutdown: connections are cut, the WAL is
  // flushed) and waits for it to exit. No-op when stopped.
  void stop();
  // Kills the postmaster and every backend at once (SIGKILL to the process
  // group): a crash of the database machine. No-op when stopped.
  void kill();
  // Starts it again on the same port (after stop()). Waits until it accepts
  // connections.
  void start();
  bool running() const { return pid_ > 0; }

  // Runs `sql` through psql and returns its unaligned, tuples-only output.
  std::string psql(const std::string& sql) const;
  // Runs the statements of `file` (psql -f: also COPY ... FROM stdin, as
  // pg_dump writes it), stopping at the first error.
  std::string psql_file(const std::filesystem::path& file) const;

 private:
  struct adopt_tag {};
  // The postmaster exited at start because another socket holds port_.
  struct port_taken : std::runtime_error {
    using std::runtime_error::runtime_error;
  };
  pg_server(adopt_tag, std::filesystem::path root, int port, cluster_options options);
  // start(), on a new port each time the port turns out to be taken.
  void start_on_a_free_port();
  // Throws port_taken, or std::runtime_error when it exits for another reason
  // or does not answer within 60 s.
  void wait_until_ready();
  std::string run_psql(const std::string& flag, const std::string& argument) const;

  std::filesystem::path root_;  // the temporary directory: data/ and the socket
  std::filesystem::path data_;
  int port_ = 0;
  cluster_options options_;
  pid_t pid_ = -1;
};

// The directory of PostgreSQL's server binaries (INSTADUMP_PG_BINDIR, set by
// the build).
std::string bindir();

}  // namespace pg_test

// pg_connection's session settings: PostgreSQL probes a connection of ours
// that went silent, so that a writer whose machine vanished does not hold
// its lease (a session lock) for the kernel's two hours; settings the server
// or the url chose are kept.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "pg_server.h"
#include "replication/pg_connection.h"

namespace {

using instadump::replication::pg_connection;
constexpr int kServerKeepaliveIdle() { return instadump::replication::kServerKeepaliveIdleSeconds; }

std::string show(pg_connection& conn, const std::string& name) {
  return std::string(conn.query("SELECT current_setting('" + name + "')", {}, "reading a setting").text(0, 0));
}

// This process's TCP socket connected to 127.0.0.1:`port` (libpq's), or -1.
int socket_to(int port) {
  for (int fd = 3; fd < 1024; ++fd) {
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) == 0 && peer.sin_family == AF_INET &&
        ntohs(peer.sin_port) == port) {
      return fd;
    }
  }
  return -1;
}

}  // namespace

TEST_CASE("PostgreSQL is asked to probe our connections: a vanished client's session ends within ~25 s",
          "[replication][connection]") {
  pg_test::pg_server pg;
  // (Over TCP, as every test connects. A setting left at 0 reads as the
  // socket's: the kernel's 7200 s idle, 75 s interval, 9 probes.)
  pg_connection conn(pg.url(), "probed");
  CHECK(show(conn, "tcp_keepalives_idle") == "10");
  CHECK(show(conn, "tcp_keepalives_interval") == "5");
  CHECK(show(conn, "tcp_keepalives_count") == "3");
  CHECK(show(conn, "tcp_user_timeout") == "25000");
  // The server's other sessions are not touched.
  CHECK(pg.psql("SELECT source FROM pg_settings WHERE name = 'tcp_keepalives_idle'") == "default");
}

TEST_CASE("probing the server or the url configured is kept", "[replication][connection]") {
  pg_test::pg_server::cluster_options o;
  o.settings = {"tcp_keepalives_idle=60"};
  pg_test::pg_server pg(o);
  pg_connection conn(pg.url() + "?options=-c%20tcp_keepalives_count%3D9", "configured");
  CHECK(show(conn, "tcp_keepalives_idle") == "60");
  CHECK(show(conn, "tcp_keepalives_count") == "9");
  CHECK(show(conn, "tcp_keepalives_interval") == "5");  // left at the default: ours
}

TEST_CASE("a session whose client vanished without a word ends after the probes, and its lock with it",
          "[replication][connection]") {
  // A machine that vanishes sends nothing. Here the client's socket is
  // dropped in TCP repair mode, which sends neither FIN nor RST, and
  // replaced by /dev/null under libpq. The server's session goes on
  // holding the lock -- a writer's lease -- until its probes, sent after
  // 10 s of silence, meet the client's kernel, which no longer knows the
  // connection. Without the probing it would wait 2 hours.
  pg_test::pg_server pg;
  auto conn = std::make_unique<pg_connection>(pg.url(), "vanishing");
  conn->query("SELECT pg_advisory_lock(42)", {}, "taking the lock");
  const auto last_word = std::chrono::steady_clock::now();
  // (Once everything sent was acknowledged: data the server had to send
  // again would meet the client's kernel at once.)
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const int fd = socket_to(pg.port());
  REQUIRE(fd >= 0);
  int on = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof on) != 0) {
    WARN("TCP_REPAIR needs CAP_NET_ADMIN (scripts/test runs as root): not tested here");
    return;
  }
  const int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  REQUIRE(devnull >= 0);
  REQUIRE(dup2(devnull, fd) == fd);  // closes the socket silently
  close(devnull);
  const auto lock_free = [&] { return pg.psql("SELECT pg_try_advisory_lock(42)") == "t"; };
  CHECK_FALSE(lock_free());  // the session did not hear of it
  bool freed = false;
  while (!freed && std::chrono::steady_clock::now() - last_word < std::chrono::seconds(60)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    freed = lock_free();
  }
  CHECK(freed);
  const auto after = std::chrono::steady_clock::now() - last_word;
  INFO("the lock was free " << std::chrono::duration_cast<std::chrono::milliseconds>(after).count()
                            << " ms after the client's last word");
  CHECK(after >= std::chrono::seconds(kServerKeepaliveIdle()));  // freed by the probes, not by a word
  conn.reset();  // libpq's goodbye goes to /dev/null
}

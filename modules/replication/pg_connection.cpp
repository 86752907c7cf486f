// pg_connection (pg_connection.h): libpq with binary parameters and results.
#include "replication/pg_connection.h"

#include <arpa/inet.h>
#include <poll.h>

#include <bit>
#include <cstring>

#include "common/errors.h"

namespace instadump::replication {
namespace {

// PostgreSQL's type oids (pg_type.dat), for the parameters we send.
constexpr unsigned kBool = 16, kBytea = 17, kInt8 = 20, kInt4 = 23, kText = 25;

std::uint64_t big_endian_64(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return std::endian::native == std::endian::little ? __builtin_bswap64(v) : v;
}

}  // namespace

void pg_params::add(unsigned oid, const char* data, int length) {
  types_.push_back(oid);
  values_.push_back(data);
  lengths_.push_back(length);
  formats_.push_back(1);
}

pg_params& pg_params::i64(std::int64_t v) {
  std::uint64_t be = static_cast<std::uint64_t>(v);
  if constexpr (std::endian::native == std::endian::little) be = __builtin_bswap64(be);
  auto& slot = numbers_.emplace_back();
  std::memcpy(slot.data(), &be, 8);
  add(kInt8, slot.data(), 8);
  return *this;
}

pg_params& pg_params::i32(std::int32_t v) {
  std::uint32_t be = htonl(static_cast<std::uint32_t>(v));
  auto& slot = numbers_.emplace_back();
  std::memcpy(slot.data(), &be, 4);
  add(kInt4, slot.data(), 4);
  return *this;
}

pg_params& pg_params::boolean(bool v) {
  auto& slot = numbers_.emplace_back();
  slot[0] = v ? 1 : 0;
  add(kBool, slot.data(), 1);
  return *this;
}

pg_params& pg_params::text(std::string_view v) {
  add(kText, v.data(), static_cast<int>(v.size()));
  return *this;
}

pg_params& pg_params::bytes(std::span<const std::byte> v) {
  // A non-null pointer even for no bytes: libpq sends null for a null pointer.
  static const char empty = 0;
  add(kBytea, v.empty() ? &empty : reinterpret_cast<const char*>(v.data()), static_cast<int>(v.size()));
  return *this;
}

pg_params& pg_params::array(const pg_array& v) {
  const std::span<const char> bytes = v.encoded();
  add(v.array_oid(), bytes.data(), static_cast<int>(bytes.size()));
  return *this;
}

pg_params& pg_params::null(unsigned type_oid) {
  add(type_oid, nullptr, 0);
  return *this;
}

std::int64_t pg_result::i64(int row, int col) const {
  return static_cast<std::int64_t>(big_endian_64(PQgetvalue(r_.get(), row, col)));
}

std::int32_t pg_result::i32(int row, int col) const {
  std::uint32_t v;
  std::memcpy(&v, PQgetvalue(r_.get(), row, col), 4);
  return static_cast<std::int32_t>(ntohl(v));
}

bool pg_result::boolean(int row, int col) const { return PQgetvalue(r_.get(), row, col)[0] != 0; }

std::string_view pg_result::text(int row, int col) const {
  return {PQgetvalue(r_.get(), row, col), static_cast<std::size_t>(PQgetlength(r_.get(), row, col))};
}

std::span<const std::byte> pg_result::bytes(int row, int col) const {
  return {reinterpret_cast<const std::byte*>(PQgetvalue(r_.get(), row, col)),
          static_cast<std::size_t>(PQgetlength(r_.get(), row, col))};
}

std::uint64_t pg_result::affected() const {
  const char* n = PQcmdTuples(r_.get());
  return (n && *n) ? std::stoull(n) : 0;
}

pg_connection::pg_connection(const std::string& url, const std::string& store) : store_(store) {
  // connect_timeout bounds how long a dead server stalls us; keepalives let
  // a cut connection be noticed. Given as defaults: the url's own win.
  const char* keys[] = {"connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
                        "keepalives_count", "application_name", "dbname", nullptr};
  const char* values[] = {"5", "1", "10", "5", "3", "instadump", url.c_str(), nullptr};
  conn_ = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    std::string why = conn_ ? PQerrorMessage(conn_) : "out of memory";
    while (!why.empty() && why.back() == '\n') why.pop_back();
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
    throw replication_error("instadump replication of store \"" + store_ +
                            "\": cannot connect to PostgreSQL: " + why +
                            " (check setup_options::replicate.url and that the server is up)");
  }
  PQsetnonblocking(conn_, 0);
  try {
    ask_server_to_probe_us();
  } catch (...) {
    PQfinish(conn_);
    conn_ = nullptr;
    throw;
  }
}

void pg_connection::ask_server_to_probe_us() {
  // The lease is a session lock, released when PostgreSQL ends the session.
  // A writer whose machine vanished (power, network) sends no FIN: an idle
  // session would hold the lease for the kernel's default of two hours
  // before a standby could take over. With the server probing the client
  // every 5 s after 10 s of silence, and giving up after 3 unanswered
  // probes (or 25 s of unacknowledged data), the lease is free within
  // ~25 s. Only those neither the server's configuration nor the url set
  // (source 'default'); statements, not startup options, so that a pooler
  // in session mode passes them. (On a Unix socket they do nothing.)
  const auto ours = [](const char* name, int value) {
    return std::string("('") + name + "', '" + std::to_string(value) + "')";
  };
  run("SELECT set_config(name, ours.value, false) FROM pg_settings JOIN (VALUES " +
          ours("tcp_keepalives_idle", kServerKeepaliveIdleSeconds) + ", " +
          ours("tcp_keepalives_interval", kServerKeepaliveIntervalSeconds) + ", " +
          ours("tcp_keepalives_count", kServerKeepaliveCount) + ", " +
          ours("tcp_user_timeout", kServerUserTimeoutMillis) +
          ") AS ours(setting, value) ON name = ours.setting WHERE source = 'default'",
      "asking PostgreSQL to probe this connection");
}

pg_connection::~pg_connection() {
  if (conn_) PQfinish(conn_);
}

bool pg_connection::ok() const { return conn_ && PQstatus(conn_) == CONNECTION_OK; }

void pg_connection::fail(PGresult* r, const char* doing) {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  sqlstate_ = state ? state : "";
  std::string why = r ? PQresultErrorMessage(r) : "";
  if (why.empty()) why = PQerrorMessage(conn_);
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  if (r) PQclear(r);
  throw replication_error("instadump replication of store \"" + store_ + "\": " + doing + " failed: " + why);
}

void pg_connection::run(const std::string& sql, const char* doing) {
  PGresult* r = PQexec(conn_, sql.c_str());
  ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) fail(r, doing);
  PQclear(r);
}

pg_result pg_connection::query(const std::string& sql, const pg_params& p, const char* doing) {
  PGresult* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(p.values_.size()), p.types_.data(),
                             p.values_.data(), p.lengths_.data(), p.formats_.data(), /*resultFormat=*/1);
  ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) fail(r, doing);
  sqlstate_.clear();
  return pg_result(r);
}

void pg_connection::prepare_once(const std::string& name, const std::string& sql, const pg_params& p,
                                 const char* doing) {
  if (prepared_.count(name)) return;
  PGresult* r = PQprepare(conn_, name.c_str(), sql.c_str(), static_cast<int>(p.types_.size()), p.types_.data());
  if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) fail(r, doing);
  PQclear(r);
  prepared_.insert(name);
}

void pg_connection::begin_and_send(const std::string& name, const std::string& sql, const pg_params& p,
                                   const char* doing) {
  prepare_once(name, sql, p, doing);  // (PQprepare waits: not in pipeline mode)
  if (!PQenterPipelineMode(conn_)) fail(nullptr, doing);
  // (A blocking connection has sent it all when PQpipelineSync returns. The
  // sync ends the pipeline, not the transaction BEGIN opened.)
  if (!PQsendQueryParams(conn_, "BEGIN", 0, nullptr, nullptr, nullptr, nullptr, 0) ||
      !PQsendQueryPrepared(conn_, name.c_str(), static_cast<int>(p.values_.size()), p.values_.data(),
                           p.lengths_.data(), p.formats_.data(), /*resultFormat=*/1) ||
      !PQpipelineSync(conn_)) {
    discard();
    fail(nullptr, doing);
  }
}

std::vector<PGresult*> pg_connection::take_pipeline_results() noexcept {
  // Each statement's result is followed by a null, and the sync by nothing;
  // a lost connection gives nulls from some point on.
  std::vector<PGresult*> results;
  for (int nulls = 0; nulls < 2;) {
    PGresult* r = PQgetResult(conn_);
    if (!r) {
      if (PQstatus(conn_) == CONNECTION_BAD) break;
      ++nulls;
      continue;
    }
    nulls = 0;
    if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
      PQclear(r);
      break;
    }
    results.push_back(r);
  }
  PQexitPipelineMode(conn_);
  return results;
}

pg_result pg_connection::receive(const char* doing) {
  std::vector<PGresult*> results = take_pipeline_results();
  // BEGIN's, then the statement's: the first that failed says why.
  PGresult* failed = nullptr;
  for (PGresult* r : results) {
    const ExecStatusType s = PQresultStatus(r);
    if (!failed && s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) failed = r;
  }
  if (failed || results.size() != 2) {
    for (PGresult* r : results) {
      if (r != failed) PQclear(r);
    }
    fail(failed, doing);
  }
  PQclear(results[0]);
  sqlstate_.clear();
  return pg_result(results[1]);
}

void pg_connection::discard() noexcept {
  for (PGresult* r : take_pipeline_results()) PQclear(r);
}

pg_result pg_connection::query_prepared(const std::string& name, const std::string& sql, const pg_params& p,
                                        const char* doing) {
  prepare_once(name, sql, p, doing);
  PGresult* r = PQexecPrepared(conn_, name.c_str(), static_cast<int>(p.values_.size()), p.values_.data(),
                               p.lengths_.data(), p.formats_.data(), /*resultFormat=*/1);
  ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) fail(r, doing);
  sqlstate_.clear();
  return pg_result(r);
}

bool pg_connection::wait_notification(std::string_view payload, std::chrono::milliseconds timeout) {
  auto consume = [&] {
    if (!PQconsumeInput(conn_)) fail(nullptr, "waiting for notifications");
    bool found = false;
    while (PGnotify* n = PQnotifies(conn_)) {
      if (payload == n->extra) found = true;
      PQfreemem(n);
    }
    return found;
  };
  if (consume()) return true;  // arrived with an earlier result
  pollfd p{PQsocket(conn_), POLLIN, 0};
  if (p.fd < 0) fail(nullptr, "waiting for notifications");
  const int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (ready < 0) return false;  // EINTR: the caller waits again
  return ready > 0 && consume();
}

}  // namespace instadump::replication

// A thin owner of one libpq connection: statements with binary parameters
// and binary results, failures as replication_error naming what was being
// done and libpq's reason.
//
// Every value crosses in PostgreSQL's binary format: int8 (64-bit ids,
// checksums and fingerprints, stored as their two's-complement bit
// pattern), int4, bool, text and bytea, and one-dimensional arrays of those
// (pg_array.h). Not thread-safe: one thread uses a
// connection at a time.
#pragma once

#include <libpq-fe.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "replication/pg_array.h"

namespace instadump::replication {

// The parameters of one statement, $1, $2, ... in the order added.
class pg_params {
 public:
  pg_params& i64(std::int64_t v);
  pg_params& u64(std::uint64_t v) { return i64(static_cast<std::int64_t>(v)); }
  pg_params& i32(std::int32_t v);
  pg_params& boolean(bool v);
  // The characters must outlive the statement (they are not copied).
  pg_params& text(std::string_view v);
  // The bytes must outlive the statement (they are not copied).
  pg_params& bytes(std::span<const std::byte> v);
  pg_params& null(unsigned type_oid);
  // A whole array as one parameter (unnest($n) makes rows of it). The array
  // must outlive the statement and not change until then (not copied).
  pg_params& array(const pg_array& v);
  std::size_t size() const { return values_.size(); }

 private:
  friend class pg_connection;
  void add(unsigned oid, const char* data, int length);
  std::deque<std::array<char, 8>> numbers_;  // stable addresses for the integers' bytes
  std::vector<unsigned> types_;
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

// A statement's result rows, columns read by index in binary format.
class pg_result {
 public:
  explicit pg_result(PGresult* r) : r_(r, &PQclear) {}
  int rows() const { return PQntuples(r_.get()); }
  bool is_null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::int64_t i64(int row, int col) const;
  std::uint64_t u64(int row, int col) const { return static_cast<std::uint64_t>(i64(row, col)); }
  std::int32_t i32(int row, int col) const;
  bool boolean(int row, int col) const;
  std::string_view text(int row, int col) const;
  std::span<const std::byte> bytes(int row, int col) const;
  // Rows a command changed (UPDATE, INSERT), 0 for others.
  std::uint64_t affected() const;

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> r_;
};

// How PostgreSQL is asked to probe a connection of ours that went silent
// (its session, and a writer's lease with it, ends when the client is gone):
// tcp_keepalives_idle/_interval/_count and tcp_user_timeout, set for the
// session where neither the server's configuration nor the url set them.
inline constexpr int kServerKeepaliveIdleSeconds = 10;
inline constexpr int kServerKeepaliveIntervalSeconds = 5;
inline constexpr int kServerKeepaliveCount = 3;
inline constexpr int kServerUserTimeoutMillis = 25'000;

class pg_connection {
 public:
  // Connects to `url` (a libpq connection string or URI) within a few
  // seconds, and asks the server to probe the connection when it goes
  // silent (the constants above). Throws replication_error naming `store`
  // and libpq's reason.
  pg_connection(const std::string& url, const std::string& store);
  ~pg_connection();
  pg_connection(const pg_connection&) = delete;
  pg_connection& operator=(const pg_connection&) = delete;

  // Runs `sql` (any number of statements, no parameters). Throws
  // replication_error saying `doing` and the server's message.
  void run(const std::string& sql, const char* doing);
  // Runs one statement with `params`; returns its rows (binary format).
  pg_result query(const std::string& sql, const pg_params& params, const char* doing);
  // The same for a statement run again and again (each snapshot's write):
  // prepared as `name` on first use, so that later runs skip parsing and
  // planning. One name, one `sql`, for the connection's life.
  pg_result query_prepared(const std::string& name, const std::string& sql, const pg_params& params,
                           const char* doing);
  // BEGIN and then query_prepared(), without waiting: both are sent at
  // once (one round trip, libpq's pipeline mode) and this returns, so that
  // the caller can work while the server runs the statement; receive()
  // waits for the statement's rows. The transaction stays open for the
  // caller to commit or roll back. Every begin_and_send() must be followed
  // by receive() or discard() before the connection is used otherwise.
  void begin_and_send(const std::string& name, const std::string& sql, const pg_params& params, const char* doing);
  // Throws replication_error (the transaction not committed) when BEGIN or
  // the statement failed.
  pg_result receive(const char* doing);
  // Waits for what begin_and_send() sent and drops it, failed or not.
  void discard() noexcept;
  // Whether the connection is still up as far as libpq knows.
  bool ok() const;
  // After "LISTEN channel": waits up to `timeout` for notifications and
  // returns whether one with `payload` arrived (others are consumed and
  // ignored). Throws replication_error when the connection is lost.
  bool wait_notification(std::string_view payload, std::chrono::milliseconds timeout);
  // The server's SQLSTATE of the last failure ("" when it had none, such
  // as a lost connection).
  const std::string& last_sqlstate() const { return sqlstate_; }

 private:
  // Sets the probing above for this session (the constructor's last step).
  void ask_server_to_probe_us();
  [[noreturn]] void fail(PGresult* r, const char* doing);
  void prepare_once(const std::string& name, const std::string& sql, const pg_params& params, const char* doing);
  // The results begin_and_send() brought, up to its sync, in order; leaves
  // pipeline mode.
  std::vector<PGresult*> take_pipeline_results() noexcept;

  PGconn* conn_ = nullptr;
  std::string store_;
  std::unordered_set<std::string> prepared_;
  std::string sqlstate_;
};

}  // namespace instadump::replication

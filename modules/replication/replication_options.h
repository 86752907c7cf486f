// What a program tells Instadump about replicating its snapshots to
// PostgreSQL (setup_options::replicate), and what it can ask about how far
// replication has got (replication_status()). Declared in a plain header
// so that the replication code (not part of the module) and the module's
// setup_options share the types; the module re-exports them
// (persist/session.cppm).
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>

namespace instadump::replication {

// When save_all() returns relative to PostgreSQL.
enum class send_mode : std::uint8_t {
  // save_all() returns once PostgreSQL has committed the snapshot (and, with
  // synchronous_standby_names set on the server, once a standby server has
  // it too). A save PostgreSQL did not acknowledge throws replication_error
  // after the snapshot was saved locally; the next save ships it.
  sync,
  // save_all() never waits for the network: a background sender ships the
  // snapshots in order, reconnecting with backoff when the connection is
  // lost (local saves go on meanwhile). How far behind it is:
  // replication_status().
  async,
};
inline constexpr send_mode sync = send_mode::sync;
inline constexpr send_mode async = send_mode::async;

// setup_options::replicate. Replication is on when `url` is set.
struct options {
  // A libpq connection string or URI ("postgresql://app@pg1/appdb",
  // "host=pg1 dbname=appdb user=app"). Empty: no replication.
  std::string url;
  // The name of this store in PostgreSQL: several stores may share one
  // database. Required with `url`.
  std::string store;
  send_mode mode = send_mode::sync;
  // Wait in setup() until no other instance holds the writer's lease on
  // `store` (its process died, or its connection was cut), then take it,
  // rebuild the local directory (which must be empty or missing) from the
  // newest replicated snapshot, and go on as the writer. Without it, setup()
  // throws replication_error when another instance holds the lease. A
  // connection lost while waiting (PostgreSQL restarted or failed over, a
  // network blip) goes to on_error and is retried with the backoff below;
  // setup() throws when the first connection fails, or on an error that is
  // no lost connection.
  bool standby = false;
  // The replicated snapshot to rebuild an empty (or missing) directory
  // from, by its number in PostgreSQL (status::replicated_seq; `instadump
  // replication URL STORE` lists the newest, `instadump restore --snapshot`
  // does the same from the command line). 0: the newest. The rebuilt store
  // then goes on as the writer: its first save replicates the restored
  // state as the copy's next snapshot, then its own (the snapshots between
  // stay in the copy, restorable). setup() throws replication_error when the copy has
  // no snapshot of that number, and invalid_option when the directory holds
  // snapshots already (remove the option once the directory is rebuilt).
  std::uint64_t restore_snapshot = 0;
  // Called (on the sender's thread) with every failed attempt of the async
  // sender, and with lease_lost when another instance took the lease; and
  // (on the thread in setup()) with each connection a standby lost while
  // waiting. Default: print to stderr. Errors never go nowhere.
  std::function<void(const std::exception& failure)> on_error;
  // The async sender (and a waiting standby) waits this long after its
  // first failed attempt, doubling up to max_backoff between attempts.
  std::chrono::milliseconds min_backoff{50};
  std::chrono::milliseconds max_backoff{2000};
  // shutdown() gives the async sender this long to ship what is pending.
  // What it did not ship stays in the local store; the next session on the
  // directory ships it.
  std::chrono::milliseconds shutdown_drain{5000};

  // Readers (setup_options::read_only with a url): a read-only session on
  // any machine whose source is the replicated copy. setup(dir) rebuilds
  // `dir` -- a local cache the reader owns, created when missing, rebuilt at
  // every setup -- from the newest replicated snapshot and loads it;
  // reload_all() first brings the cache up to PostgreSQL's newest, then
  // loads that. A reader only reads PostgreSQL (its transactions are
  // read-only, it takes no lease). Keep setup_options::keep_generations at
  // least the writer's: the cache then holds every chunk a new snapshot can
  // refer back to.
  //
  // Keep the cache current in the background (a thread that LISTENs for the
  // writer's notifications, polls every poll_interval as well, and
  // reconnects with min_backoff .. max_backoff after a failure, each one
  // reported to on_error). Without it, only reload_all() catches up.
  bool follow = true;
  std::chrono::milliseconds poll_interval{1000};
  // Called (on the follower's thread) when the cache has a replicated
  // snapshot newer than the one last reported, with its number in
  // PostgreSQL (status::replicated_seq): call reload_all() to load it (not
  // from inside the callback, which would hold up the follower).
  std::function<void(std::uint64_t replicated_seq)> on_newer_snapshot;
};

// How far replication has got (replication_status()).
struct status {
  bool enabled = false;          // setup() was given a url
  send_mode mode = send_mode::sync;
  bool connected = false;        // the connection to PostgreSQL is up
  bool lease_lost = false;       // another instance took over (see lease_lost)
  std::uint64_t epoch = 0;       // this writer's fencing token
  // The newest local snapshot PostgreSQL has, and its number there (the
  // replicated snapshots are numbered 1, 2, ... across writers).
  std::uint64_t replicated_local_id = 0;
  std::uint64_t replicated_seq = 0;
  // Local snapshots not replicated yet, and the bytes of their new values.
  std::uint64_t snapshots_behind = 0;
  std::uint64_t bytes_behind = 0;
  // How long ago the newest replicated snapshot was saved locally (0 when
  // none was replicated).
  std::chrono::nanoseconds replicated_age{0};
  // The last failure, empty when the last attempt succeeded.
  std::string last_error;
  // Readers: the cache's newest snapshot is replicated_seq (whose id in
  // the writer's store was replicated_local_id), and the one reload_all()
  // or setup() loaded last is loaded_seq (0: none).
  bool reader = false;
  std::uint64_t loaded_seq = 0;
};

}  // namespace instadump::replication

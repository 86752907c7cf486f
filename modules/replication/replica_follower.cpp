// replica_follower (replica_follower.h): a reader's cache kept at the
// replicated copy's newest snapshot.
#include "replication/replica_follower.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "common/errors.h"
#include "replication/pg_connection.h"
#include "replication/replica_delta.h"
#include "replication/replicated_copy.h"
#include "replication/restore.h"
#include "storage/snapshot_store.h"

namespace instadump::replication {

using detail::lock_guard;
using detail::unique_lock;

namespace {

// How many cache snapshot ids loaded() can map back to the copy's seq (the
// session loads the cache's newest, so a few suffice).
constexpr std::size_t kSeqsRemembered = 1024;
// How long the follower waits on its LISTEN connection before looking
// whether it was asked to stop.
constexpr std::chrono::milliseconds kStopCheck{50};
// The SQLSTATE of LISTEN on a hot standby ("cannot execute LISTEN during
// recovery").
constexpr const char* kReadOnlySqlTransaction = "25006";

// `url` with any password left out, for messages.
std::string without_password(const std::string& url) {
  const std::size_t scheme = url.find("://");
  const std::size_t at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) return url;
  const std::size_t colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon) + ":***" + url.substr(at);
}

}  // namespace

replica_follower::replica_follower(const options& o, storage::snapshot_store& cache) : options_(o), cache_(cache) {
  if (options_.store.empty()) {
    throw invalid_option("instadump::setup: setup_options::replicate.store is empty; name the replicated store "
                         "to read (the writer's replicate.store)");
  }
  if (options_.standby) {
    throw invalid_option("instadump::setup: setup_options::read_only and replicate.standby are both set; a reader "
                         "never becomes the writer: set standby in the instance that should take over, read_only "
                         "in readers");
  }
  {
    lock_guard lock(mu_);
    status_.enabled = true;
    status_.reader = true;
    status_.mode = options_.mode;
  }
  try {
    catch_up();
  } catch (const replication_error& e) {
    throw open_failed("instadump::setup: cannot read replicated store \"" + options_.store + "\" at \"" +
                      without_password(options_.url) + "\" (setup_options::replicate): " + e.what());
  }
  if (options_.follow) thread_ = std::thread([this] { follow_loop(); });
}

replica_follower::~replica_follower() {
  {
    lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void replica_follower::catch_up() {
  lock_guard lock(copy_mu_);
  std::optional<copy_head> head;
  try {
    if (!copy_) copy_ = std::make_unique<replicated_copy>(options_.url, options_.store, replicated_copy::read_only_t{});
    head = copy_->head();
    if (head && head->seq < cache_seq_) {
      throw replication_error("instadump reader of replicated store \"" + options_.store + "\": the copy's newest "
                              "snapshot is " + std::to_string(head->seq) + ", older than the " +
                              std::to_string(cache_seq_) + " this reader has: the database was replaced; set up "
                              "the reader again");
    }
    while (head && cache_seq_ < head->seq) {
      const std::uint64_t seq = cache_local_ == 0 ? head->seq : cache_seq_ + 1;
      cache_local_ = cache_local_ == 0 ? restore_from_copy(*copy_, cache_, seq)
                                       : apply_replicated_snapshot(*copy_, cache_, seq, cache_local_);
      cache_seq_ = seq;
      lock_guard s(mu_);
      seq_of_[cache_local_] = seq;
      // With seq_of_, under one lock: a reload may load this snapshot before
      // the loop ends, and status() must not then say less was replicated.
      status_.replicated_seq = seq;
      if (seq_of_.size() > kSeqsRemembered) seq_of_.erase(seq_of_.begin());
    }
  } catch (const replication_error&) {
    if (copy_ && !copy_->ok()) copy_.reset();  // connect again next time
    throw;
  }
  lock_guard s(mu_);
  status_.connected = true;
  status_.last_error.clear();
  status_.replicated_seq = cache_seq_;
  if (head) {
    status_.replicated_local_id = head->local_id;
    newest_created_ = head->local_created_unix_nanos;
  }
}

void replica_follower::loaded(std::uint64_t local_id) {
  lock_guard lock(mu_);
  auto it = seq_of_.find(local_id);
  status_.loaded_seq = it == seq_of_.end() ? 0 : it->second;
}

status replica_follower::current() const {
  lock_guard lock(mu_);
  status s = status_;
  if (newest_created_ != 0) {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    s.replicated_age = std::max(std::chrono::nanoseconds(0), now - std::chrono::nanoseconds(newest_created_));
  }
  return s;
}

void replica_follower::fail(const std::exception& e) {
  {
    lock_guard lock(mu_);
    status_.connected = false;
    status_.last_error = e.what();
  }
  if (options_.on_error) {
    try {
      options_.on_error(e);
    } catch (...) {
    }
  } else {
    std::fprintf(stderr, "instadump: replicated-store reader: %s\n", e.what());
  }
}

bool replica_follower::sleep_or_stop(std::chrono::milliseconds d) {
  unique_lock lock(mu_);
  cv_.wait_for(lock.native(), d, [&]() REQUIRES(mu_) { return stop_; });
  return stop_;
}

void replica_follower::follow_loop() {
  std::unique_ptr<pg_connection> listener;
  bool listen = true;  // false on a hot standby
  std::chrono::milliseconds backoff = options_.min_backoff;
  for (;;) {
    try {
      if (!listener && listen) {
        auto c = std::make_unique<pg_connection>(options_.url, options_.store);
        try {
          c->run("LISTEN instadump", "listening for the writer's snapshots");
          listener = std::move(c);
        } catch (const replication_error&) {
          // A hot standby refuses LISTEN (and gets no NOTIFY): poll only.
          if (c->last_sqlstate() != kReadOnlySqlTransaction) throw;
          listen = false;
        }
      }
      catch_up();  // (also what arrived while the listener was down)
      backoff = options_.min_backoff;
      std::uint64_t newest;
      {
        lock_guard lock(mu_);
        newest = status_.replicated_seq;
      }
      if (newest > reported_seq_) {
        reported_seq_ = newest;
        if (options_.on_newer_snapshot) options_.on_newer_snapshot(newest);
      }
      // Until the writer's notification, the next poll, or stop.
      const auto poll_at = std::chrono::steady_clock::now() + options_.poll_interval;
      if (!listener) {
        if (sleep_or_stop(options_.poll_interval)) return;
        continue;
      }
      for (;;) {
        if (sleep_or_stop(std::chrono::milliseconds(0))) return;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(poll_at -
                                                                                std::chrono::steady_clock::now());
        if (left.count() <= 0 || listener->wait_notification(options_.store, std::min(left, kStopCheck))) break;
      }
    } catch (const std::exception& e) {
      listener.reset();
      fail(e);
      if (sleep_or_stop(backoff)) return;
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
  }
}

}  // namespace instadump::replication

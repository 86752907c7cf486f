// replicator (replicator.h): the lease at setup, restore of an empty store,
// shipping in sync mode or by the sender thread in async mode.
#include "replication/replicator.h"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "common/errors.h"
#include "replication/replicated_copy.h"
#include "replication/replication_lag.h"
#include "replication/restore.h"
#include "replication/snapshot_shipper.h"
#include "storage/snapshot_store.h"

namespace instadump::replication {

using detail::lock_guard;
using detail::unique_lock;

namespace {

std::string message_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace

replicator::replicator(const options& o, storage::snapshot_store& local)
    : options_(o), local_(local), shipper_(std::make_unique<snapshot_shipper>(local)) {
  if (options_.url.empty() || options_.store.empty()) {
    throw invalid_option(std::string("instadump::setup: setup_options::replicate.") +
                         (options_.url.empty() ? "url" : "store") +
                         " is empty; replication needs both a PostgreSQL url and the store's name there");
  }
  const bool empty = !local_.newest();
  if (options_.standby && !empty) {
    throw invalid_option("instadump::setup: a standby (setup_options::replicate.standby) restores its directory "
                         "from PostgreSQL when it takes over, but \"" + local_.directory().string() +
                         "\" holds snapshots already; give it an empty directory");
  }
  if (options_.restore_snapshot != 0 && !empty) {
    throw invalid_option("instadump::setup: setup_options::replicate.restore_snapshot (" +
                         std::to_string(options_.restore_snapshot) + ") rebuilds an empty directory, but \"" +
                         local_.directory().string() + "\" holds snapshots already; give it an empty directory, "
                         "or remove the option once the directory is rebuilt");
  }
  copy_ = options_.standby ? take_lease_as_standby() : take_lease_now();
  const std::optional<storage::snapshot_info> newest = local_.newest();
  {
    lock_guard lock(mu_);
    connected_ = true;
    target_ = newest ? newest->id : 0;
    shipped_local_ = shipper_->last_shipped();
    shipped_seq_ = shipper_->last_seq();
    shipped_created_ = shipper_->last_created_unix_nanos();
  }
  if (options_.mode == send_mode::async) sender_ = std::thread([this] { sender_loop(); });
}

std::unique_ptr<replicated_copy> replicator::take_lease_now() {
  auto copy = std::make_unique<replicated_copy>(options_.url, options_.store);
  if (!copy->try_take_lease()) {
    throw replication_error("instadump::setup: another instance holds the writer's lease on replicated store \"" +
                            options_.store + "\"; only one writes at a time. Stop it, or start this one with "
                            "setup_options::replicate.standby = true to wait and take over when it ends");
  }
  become_writer(*copy);
  return copy;
}

std::unique_ptr<replicated_copy> replicator::take_lease_as_standby() {
  // A standby may wait for days. A connection lost meanwhile -- PostgreSQL
  // restarted or failed over, a network blip -- is reported and retried
  // with the sender's backoff: a standby that gave up at the first blip
  // would not be there when the writer dies. The first connection must
  // succeed (a wrong url or password fails setup() at once), and an error
  // on a live connection (a diverged directory) is no blip: both throw.
  std::chrono::milliseconds backoff = options_.min_backoff;
  for (bool connected_before = false;;) {
    std::unique_ptr<replicated_copy> copy;
    try {
      copy = std::make_unique<replicated_copy>(options_.url, options_.store);
      connected_before = true;
      copy->take_lease_waiting();
      become_writer(*copy);
      return copy;
    } catch (const replication_error&) {
      const bool blip = connected_before && !(copy && copy->ok());
      if (!blip) throw;
      report(std::current_exception(), "standby waiting for the lease");
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

void replicator::become_writer(replicated_copy& copy) {
  epoch_ = copy.epoch();
  restored_snapshot restored;
  if (!local_.newest()) {
    restored = restore_snapshot_from_copy(
        copy, local_, options_.restore_snapshot != 0 ? std::optional(options_.restore_snapshot) : std::nullopt);
  }
  shipper_->attach(copy, &restored);
}

replicator::~replicator() { stop(options_.shutdown_drain); }

void replicator::stop(std::chrono::milliseconds drain) {
  if (!sender_.joinable()) return;
  wait_shipped(drain);
  {
    lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  sender_.join();
}

void replicator::before_save() {
  lock_guard lock(mu_);
  if (lost_) throw lease_lost(lost_message_);
}

void replicator::ensure_connected() {
  if (copy_ && copy_->ok()) return;
  copy_.reset();
  auto copy = std::make_unique<replicated_copy>(options_.url, options_.store);
  copy->resume_lease(epoch_);
  shipper_->attach(*copy);
  copy_ = std::move(copy);
}

std::exception_ptr replicator::ship(std::uint64_t upto, std::span<const saved_snapshot> saved,
                                    const std::function<void()>& before_commit) {
  std::exception_ptr failure;
  bool lost = false;
  // A connection that was cut while idle (the server restarted, a proxy
  // timed it out) fails the first statement: then one more attempt on a
  // new connection.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = copy_ != nullptr;
    failure = nullptr;
    try {
      ensure_connected();
      shipper_->ship_until(*copy_, upto, saved, before_commit);
      break;
    } catch (const lease_lost&) {
      failure = std::current_exception();
      lost = true;
      copy_.reset();
      break;
    } catch (const std::exception&) {
      failure = std::current_exception();
      const bool cut = reused && copy_ && !copy_->ok();
      copy_.reset();  // the next attempt reconnects and learns what the copy has
      if (!cut) break;
    }
  }
  lock_guard lock(mu_);
  connected_ = copy_ != nullptr;
  shipped_local_ = shipper_->last_shipped();
  shipped_seq_ = shipper_->last_seq();
  shipped_created_ = shipper_->last_created_unix_nanos();
  last_error_ = failure ? message_of(failure) : std::string();
  if (lost) {
    lost_ = true;
    lost_message_ = last_error_;
  }
  cv_.notify_all();
  return failure;
}

void replicator::after_save(saved_snapshot saved, const std::function<void()>& make_durable) {
  const std::uint64_t local_id = saved.info.id;
  if (options_.mode == send_mode::async) {
    if (make_durable) make_durable();  // (the sender waits for nothing)
    saved.own(keys_);
    const std::size_t bytes = saved.held_bytes();
    {
      lock_guard lock(mu_);
      target_ = std::max(target_, local_id);
      // A sender far behind (PostgreSQL slow or away) reads the store for
      // what it ships then rather than holding every save's bytes.
      queued_bytes_ += bytes;
      queued_.push_back(std::move(saved));
      while (queued_.size() > kMaxQueued || queued_bytes_ > kMaxQueuedBytes) {
        queued_bytes_ -= queued_.front().held_bytes();
        queued_.pop_front();
      }
    }
    cv_.notify_all();
    return;
  }
  {
    lock_guard lock(mu_);
    target_ = std::max(target_, local_id);
  }
  // The local flush runs while PostgreSQL runs the snapshot's statement,
  // before its commit; once, whatever happens to the shipping (a write
  // that fails before it is sent, or is retried on a new connection, does
  // not run it: then it runs here). Its failure is the save's, and wins
  // over a replication failure.
  bool flushed = !make_durable;
  std::exception_ptr flush_failure;
  std::function<void()> flush_once;
  if (make_durable) {
    flush_once = [&] {
      if (flushed) return;
      flushed = true;
      try {
        make_durable();
      } catch (...) {
        flush_failure = std::current_exception();
        throw;
      }
    };
  }
  const std::exception_ptr failure = ship(local_id, std::span(&saved, 1), flush_once);
  if (!flushed) flush_once();
  if (flush_failure) std::rethrow_exception(flush_failure);
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const lease_lost&) {
      throw;
    } catch (const std::exception& e) {
      throw replication_error("instadump::save_all: snapshot " + std::to_string(local_id) +
                              " is saved locally but PostgreSQL did not acknowledge it (the next save ships "
                              "it): " + e.what());
    }
  }
}

void replicator::report(const std::exception_ptr& failure, const char* who) const {
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    if (options_.on_error) {
      try {
        options_.on_error(e);
      } catch (...) {
      }
    } else {
      std::fprintf(stderr, "instadump: %s: %s\n", who, e.what());
    }
  }
}

void replicator::sender_loop() {
  std::chrono::milliseconds backoff = options_.min_backoff;
  for (;;) {
    std::uint64_t upto = 0;
    std::vector<saved_snapshot> saved;
    {
      unique_lock lock(mu_);
      while (!stop_ && (lost_ || target_ <= shipped_local_)) cv_.wait(lock.native());
      if (stop_) return;
      upto = target_;
      saved.assign(std::make_move_iterator(queued_.begin()), std::make_move_iterator(queued_.end()));
      queued_.clear();
      queued_bytes_ = 0;
    }
    // (Dropped once tried: after a failure the retry reads the store.)
    std::exception_ptr failure = ship(upto, saved);
    if (!failure) {
      backoff = options_.min_backoff;
      continue;
    }
    report(failure, "async replication");
    unique_lock lock(mu_);
    if (lost_) continue;  // nothing more to do but wait for stop
    cv_.wait_for(lock.native(), backoff, [&]() REQUIRES(mu_) { return stop_; });
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

bool replicator::wait_shipped(std::chrono::milliseconds timeout) {
  unique_lock lock(mu_);
  const std::uint64_t target = target_;
  cv_.wait_for(lock.native(), timeout, [&]() REQUIRES(mu_) { return lost_ || shipped_local_ >= target; });
  return shipped_local_ >= target;
}

status replicator::current() const {
  status s;
  s.enabled = true;
  s.mode = options_.mode;
  s.epoch = epoch_;
  std::uint64_t target = 0;
  {
    lock_guard lock(mu_);
    target = target_;
    s.connected = connected_;
    s.lease_lost = lost_;
    s.replicated_local_id = shipped_local_;
    s.replicated_seq = shipped_seq_;
    s.last_error = last_error_;
    if (shipped_created_ != 0) {
      const auto now = std::chrono::system_clock::now().time_since_epoch();
      s.replicated_age = std::max(std::chrono::nanoseconds(0),
                                  std::chrono::duration_cast<std::chrono::nanoseconds>(now) -
                                      std::chrono::nanoseconds(shipped_created_));
    }
  }
  // Caught up (every save so far shipped): nothing is behind, and the
  // store is not read -- a read of a writable store first writes its
  // journal into data.mdb, a durable commit per status call otherwise.
  if (s.replicated_local_id >= target) return s;
  const local_lag lag = lag_after(local_.list_snapshots(), s.replicated_local_id);
  s.snapshots_behind = lag.snapshots;
  s.bytes_behind = lag.bytes;
  return s;
}

}  // namespace instadump::replication

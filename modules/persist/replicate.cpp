// replication_status() and wait_for_replication(): what the session's
// replicator (setup_options::replicate) says about how far it has got.
module;
#include <chrono>

#include "common/thread_safety.h"
#include "replication/replica_follower.h"
#include "replication/replicator.h"
module instadump;
import :session_impl;

namespace instadump::detail {

replication::status session::replication_state() {
  lock_guard lock(op_mu_);
  if (follower_) return follower_->current();
  return replicator_ ? replicator_->current() : replication::status{};
}

bool session::wait_replicated(std::chrono::milliseconds timeout) {
  lock_guard lock(op_mu_);  // (the sender does not need it: saves wait meanwhile)
  return replicator_ ? replicator_->wait_shipped(timeout) : true;
}

}  // namespace instadump::detail

namespace instadump {

replication::status replication_status() { return detail::session::get().replication_state(); }

bool wait_for_replication(std::chrono::milliseconds timeout) {
  return detail::session::get().wait_replicated(timeout);
}

}  // namespace instadump

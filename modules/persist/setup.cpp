// setup() and shutdown(): opening the snapshot directory (whose newest
// snapshot load.cpp then loads), closing it, and the one reset both do.
module;
#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <string_view>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_set>
#include <utility>

#include "common/errors.h"
#include "common/thread_safety.h"
#include "replication/reader_cache.h"
#include "replication/replica_follower.h"
#include "replication/replicator.h"
#include "storage/snapshot_store.h"
module instadump;
import :session_impl;

namespace instadump::detail {
namespace {

// Throws open_failed when `dir` is a directory that holds files but no
// store: a mistyped path (the home directory, a source tree) must not become
// a store with the user's files in it. Missing and empty directories, and
// stores (with data.mdb, or only the files a store's creation writes before
// it), pass; whatever else is wrong with `dir` is the store's to report.
void refuse_foreign_directory(const std::filesystem::path& dir) {
  static constexpr std::array<std::string_view, 4> store_files = {"data.mdb", "lock.mdb", "instadump.lock",
                                                                  "journal.log"};
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return;  // missing, not a directory, or unreadable
  std::string found;
  std::size_t foreign = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name == "data.mdb") return;
    if (std::find(store_files.begin(), store_files.end(), name) != store_files.end()) continue;
    if (++foreign <= 3) found += (found.empty() ? "\"" : ", \"") + name + (it->is_directory(ec) ? "/\"" : "\"");
  }
  if (foreign == 0) return;
  if (foreign > 3) found += " and " + std::to_string(foreign - 3) + " more";
  throw open_failed("instadump::setup: \"" + dir.string() + "\" is not empty and holds no Instadump store (no " +
                    "data.mdb); it holds " + found + ". Pass a new or empty directory, or the directory of an "
                    "existing store");
}

// Throws for a read-only setup that cannot work: read_only_session when
// autosave is set (a reader never saves), open_failed when `dir` holds no
// store (a reader does not create one; the store's own open would say less).
void refuse_read_only_misuse(const std::filesystem::path& dir, const setup_options& options) {
  if (options.autosave.every.count() > 0 || options.autosave.after_commits > 0) {
    throw read_only_session("instadump::setup(\"" + dir.string() + "\"): setup_options::autosave is set in a " +
                            "read-only session (setup_options::read_only), which never saves; leave autosave off "
                            "in readers (the writer process saves)");
  }
  if (!options.replicate.url.empty()) return;  // a reader of PostgreSQL: `dir` is its cache
  std::error_code ec;
  if (!std::filesystem::exists(dir / "data.mdb", ec)) {
    throw open_failed("instadump::setup(\"" + dir.string() + "\", {.read_only = true}): there is no Instadump " +
                      "store there (no data.mdb), and a read-only session does not create one; start the writer " +
                      "process first (setup without read_only), or pass the directory of an existing store");
  }
}

}  // namespace

session& session::get() {
  static session instance;
  return instance;
}

session::~session() { stop_autosave(false); }

void refuse_inside_transaction(const char* verb) {
  if (current_transaction()) {
    throw error(std::string("instadump::") + verb +
                "() called inside a transaction: call it outside dosync (from after_commit(), for example)");
  }
}

void session::setup(const std::filesystem::path& dir, const setup_options& options) {
  lock_guard lock(op_mu_);
  if (store_) {
    throw error("instadump::setup(\"" + dir.string() + "\"): already set up with \"" +
                store_->directory().string() + "\"; call instadump::shutdown() first");
  }
  if (options.keep_generations == 0) {
    throw invalid_option("instadump::setup: setup_options::keep_generations is 0; it must be at least 1");
  }
  if (options.read_only) {
    refuse_read_only_misuse(dir, options);
  } else {
    refuse_foreign_directory(dir);
  }
  storage::store_options so;
  so.keep_generations = options.keep_generations;
  so.read_only = options.read_only;
  const bool reads_replica = options.read_only && !options.replicate.url.empty();
  // A reader of a replicated store writes its own cache, in dir/store.
  std::unique_ptr<storage::directory_lock> cache_lock;
  if (reads_replica) {
    cache_lock = replication::lock_reader_cache(dir);
    so.read_only = false;
  }
  auto store = storage::snapshot_store::open(reads_replica ? replication::reader_cache_store(dir) : dir, so);
  // Takes the writer's lease, and fills an empty store from the replicated
  // copy (a reader: fills its cache), before the load below reads it.
  std::unique_ptr<replication::replicator> replicator;
  std::unique_ptr<replication::replica_follower> follower;
  if (reads_replica) {
    follower = std::make_unique<replication::replica_follower>(options.replicate, *store);
  } else if (!options.replicate.url.empty()) {
    replicator = std::make_unique<replication::replicator>(options.replicate, *store);
  }
  close();  // what the session knew about the directory it had open before
  store_ = std::move(store);
  replicator_ = std::move(replicator);
  follower_ = std::move(follower);
  cache_lock_ = std::move(cache_lock);
  ++chunk_epoch_;  // (the epochs themselves are given out by chunk_epoch_of)
  options_ = options;
  try {
    load_at_setup();
  } catch (...) {
    close();
    throw;
  }
  if (!atexit_registered_) {
    atexit_registered_ = true;
    std::atexit([] { session::get().shutdown(true); });
  }
  start_autosave();
}

void session::shutdown(bool final_save) {
  stop_autosave(final_save);
  lock_guard lock(op_mu_);
  close();
}

void session::close() {
  replicator_.reset();  // (its sender reads the store)
  follower_.reset();    // (it writes the store)
  store_.reset();
  cache_lock_.reset();
  for (tracked_state& t : tracked_) {
    t.saved = {};
    t.forget_chunks();
  }
  dropped_.clear();
  pending_remove_.clear();
  unclaimed_.clear();
  base_id_ = 0;
  base_is_newest_ = false;
  schemas_stored_.clear();
}

bool session::open() {
  lock_guard lock(op_mu_);
  return store_ != nullptr;
}

storage::snapshot_store& session::store_or_throw(const char* verb) {
  if (!store_) {
    throw error(std::string("instadump::") + verb +
                "() called before instadump::setup(dir): tell Instadump where the snapshots live first");
  }
  return *store_;
}

}  // namespace instadump::detail

namespace instadump {

void setup(const std::filesystem::path& dir, const setup_options& options) {
  detail::refuse_inside_transaction("setup");
  detail::session::get().setup(dir, options);
}

void shutdown() { detail::session::get().shutdown(true); }

bool is_setup() noexcept {
  try {
    return detail::session::get().open();
  } catch (...) {
    return false;
  }
}

}  // namespace instadump

// What a writable snapshot_store keeps about its journal: the file, the
// journaled snapshots data.mdb does not have yet, the plan of the next one,
// and the background thread that writes them into data.mdb.
//
// Internal to instadump_storage (snapshot_store.cpp, snapshot_journal.cpp).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "storage/journal_codec.h"
#include "storage/journal_file.h"
#include "storage/name_map.h"
#include "storage/snapshot_store.h"

namespace instadump::storage {

struct snapshot_store::journal_state {
  journal_state(const std::filesystem::path& dir, std::uint64_t bytes) : file(dir, bytes) {}

  // A journaled snapshot not yet in data.mdb: its entry, and the memory the
  // entry's blob points into (the message it was built in, or the frame it
  // was read from).
  struct pending_snapshot {
    journal_entry entry;
    std::unique_ptr<journal_message> message;
    std::vector<std::uint64_t> payload;
    int half = 0;  // of the file, where its frame is
  };
  // Whether a snapshot waiting to go into data.mdb has its frame in `half`.
  bool has_pending_in(int half) const;

  // Guarded by mu (the file is written under it, too).
  std::mutex mu;
  journal_file file;
  std::deque<pending_snapshot> pending;  // oldest first
  std::chrono::steady_clock::time_point oldest_pending;  // when the oldest of them was journaled
  std::chrono::steady_clock::time_point newest_pending;  // when the newest was
  std::condition_variable wake;          // the applier waits on it
  bool stop = false;                     // the applier should end
  bool failed = false;                   // the last write into data.mdb failed: retry after the next save
  // The applier waits for a snapshot to write, not for a pause in saving:
  // the next save wakes it. (While it waits for a pause, a save need not:
  // it looks again when its wait ends.)
  bool applier_idle = false;
  std::thread applier;

  // The plan of the next journaled snapshot: what the newest snapshot (in
  // data.mdb or in the journal) is, and what ids come next. Guarded by the
  // store's write_mu_. When not `planned`, the next journaled save first
  // takes it from the writer's state (which needs an empty journal).
  bool planned = false;
  std::int64_t store_created = 0;  // StoreMeta.createdUnixNanos
  std::uint64_t newest = 0;
  std::int64_t newest_created = 0;
  std::uint64_t next_blob = 1;
  std::uint64_t next_key_id = 1;
  std::vector<std::string> names;  // key id -> name ("" for unused ids)
  name_map<std::uint64_t> key_ids;
  std::vector<std::uint64_t> size_plus_one;  // key id -> the newest snapshot's value size + 1 (0: none)
  std::uint64_t total_bytes = 0;            // of the newest snapshot
};

// One journaled save, planned: the entry (every field but the checksums and
// the blob's bytes) and the size of its blob.
struct snapshot_store::journal_plan {
  journal_entry entry;
  std::size_t blob_bytes = 0;
  std::size_t name_bytes = 0;
  std::size_t schema_bytes = 0;
};

}  // namespace instadump::storage

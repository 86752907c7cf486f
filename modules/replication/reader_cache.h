// The directory of a reader's cache (setup_options::read_only with a
// replicate.url): <dir>/instadump.lock, held while the reader runs, and the
// local store in <dir>/store, rebuilt from PostgreSQL at every setup. The
// lock keeps two readers from sharing one cache (or one from wiping the
// store the other has open).
#pragma once

#include <filesystem>
#include <memory>

#include "storage/file_lock.h"

namespace instadump::replication {

// Creates `dir` if missing, locks it and removes the store a previous reader
// left in <dir>/store; returns the lock (hold it while the store is open).
// Throws locked_by_other_process when another reader (or a writer: `dir`
// is its store) holds the lock, and open_failed when `dir` holds anything
// but a reader's cache -- a writer's store (data.mdb) or other files are
// never removed.
std::unique_ptr<storage::directory_lock> lock_reader_cache(const std::filesystem::path& dir);

// Where the cache's store is in `dir`.
std::filesystem::path reader_cache_store(const std::filesystem::path& dir);

}  // namespace instadump::replication

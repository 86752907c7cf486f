// The single-writer lock of a store directory: an exclusive, non-blocking
// flock(2) on `<dir>/instadump.lock`, held for as long as a writable store is
// open.
//
// flock (not fcntl) locks belong to the open file description, so closing an
// unrelated descriptor of the same file does not drop them, and a second open
// in the same process conflicts just like one in another process. The lock is
// released by closing the descriptor (never by LOCK_UN: a forked child shares
// the description, and unlocking there would unlock the parent).
#pragma once

#include <filesystem>

namespace instadump::storage {

class directory_lock {
 public:
  // Creates `<dir>/instadump.lock` (mode 0600, close-on-exec) if needed and
  // locks it. Throws locked_by_other_process when another open store (in this
  // or another process) holds it, open_failed when the file cannot be
  // created or locked.
  explicit directory_lock(const std::filesystem::path& dir);
  // Releases the lock by closing the descriptor.
  ~directory_lock();

  directory_lock(const directory_lock&) = delete;
  directory_lock& operator=(const directory_lock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace instadump::storage

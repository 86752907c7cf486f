// The store directory as a filesystem object: creating it with the right
// mode, keeping its descriptors out of exec'd children, and making sure one
// process never opens the same store twice.
//
// Internal to instadump_storage; failures are open_failed with messages that
// name the directory.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <utility>

namespace instadump::storage {

// Makes sure `dir` is a usable directory, creating it (and its parents) for
// writable opens, the store directory itself with mode 0700.
void prepare_directory(const std::filesystem::path& dir, bool read_only);

// Marks every descriptor of this process that points into `dir` close-on-exec.
void set_close_on_exec(const std::filesystem::path& dir);

// (device, inode) of `dir`. Throws open_failed.
std::pair<dev_t, ino_t> identity_of(const std::filesystem::path& dir);

// Records that this process has the store `id` open; throws open_failed when
// it already has (LMDB's locks are per process: a second open would drop the
// first one's when closed). Entries of a parent process are ignored after fork.
void register_open_directory(const std::filesystem::path& dir, std::pair<dev_t, ino_t> id);
void unregister_open_directory(std::pair<dev_t, ino_t> id);

}  // namespace instadump::storage

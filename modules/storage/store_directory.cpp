// Store directory handling (see store_directory.h).
#include "storage/store_directory.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common/errors.h"
#include "common/thread_safety.h"

namespace instadump::storage {
namespace {

// Directories (device, inode) this process has open. LMDB must not open one
// environment twice in a process: its fcntl locks are per process, so closing
// the second handle would drop the first one's locks and let another process
// reset the shared reader table under it. Entries record the opening pid so a
// forked child, which inherits a copy, ignores its parent's entries.
struct open_directory {
  dev_t dev;
  ino_t ino;
  pid_t pid;
};
instadump::detail::mutex g_open_mutex;
std::vector<open_directory> g_open_directories GUARDED_BY(g_open_mutex);

}  // namespace

// Makes sure `dir` is a usable directory, creating it (0700) for writable opens.
void prepare_directory(const std::filesystem::path& dir, bool read_only) {
  std::error_code ec;
  auto status = std::filesystem::status(dir, ec);
  if (std::filesystem::exists(status) && !std::filesystem::is_directory(status)) {
    throw open_failed("instadump: " + dir.string() +
                      " is not a directory; a snapshot store needs a directory of its own");
  }
  if (!std::filesystem::exists(status)) {
    if (read_only) {
      throw open_failed("instadump: there is no snapshot store in " + dir.string() +
                        " (the directory does not exist); open it writable once to create it");
    }
    if (dir.has_parent_path()) {
      std::filesystem::create_directories(dir.parent_path(), ec);
      if (ec) {
        throw open_failed("instadump: cannot create the directory " + dir.parent_path().string() +
                          " for the store in " + dir.string() + ": " + ec.message());
      }
    }
    // 0700: snapshots hold the program's whole state; nobody else should read them.
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      const int err = errno;
      throw open_failed("instadump: cannot create the store directory " + dir.string() + ": " +
                        std::strerror(err));
    }
    if (!std::filesystem::is_directory(dir, ec)) {
      throw open_failed("instadump: " + dir.string() + " is not a directory after creating it");
    }
  }
  const int mode = read_only ? (R_OK | X_OK) : (R_OK | W_OK | X_OK);
  if (::access(dir.c_str(), mode) != 0) {
    const int err = errno;
    throw open_failed("instadump: the store directory " + dir.string() + " is not " +
                      (read_only ? "readable" : "writable") + " (" + std::strerror(err) +
                      "); fix its permissions or open another directory");
  }
}

// LMDB opens its files with O_CLOEXEC where the platform has it; make sure of
// it for every descriptor that points into the store, so an exec'd child
// cannot hold the files (and their locks) open.
void set_close_on_exec(const std::filesystem::path& dir) {
  std::error_code ec;
  const std::string prefix = std::filesystem::canonical(dir, ec).string() + "/";
  if (ec) return;
  DIR* fds = ::opendir("/proc/self/fd");
  if (fds == nullptr) return;
  while (dirent* d = ::readdir(fds)) {
    const int fd = std::atoi(d->d_name);
    if (d->d_name[0] == '.' || fd == ::dirfd(fds)) continue;
    char target[4096];
    const std::string link = std::string("/proc/self/fd/") + d->d_name;
    const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
    if (n <= 0) continue;
    target[n] = '\0';
    if (std::string_view(target).starts_with(prefix)) {
      const int flags = ::fcntl(fd, F_GETFD);
      if (flags >= 0 && !(flags & FD_CLOEXEC)) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
  }
  ::closedir(fds);
}

std::pair<dev_t, ino_t> identity_of(const std::filesystem::path& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    const int err = errno;
    throw open_failed("instadump: cannot stat the store directory " + dir.string() + ": " + std::strerror(err));
  }
  return {st.st_dev, st.st_ino};
}

void register_open_directory(const std::filesystem::path& dir, std::pair<dev_t, ino_t> id) {
  instadump::detail::lock_guard lock(g_open_mutex);
  const pid_t self = ::getpid();
  std::erase_if(g_open_directories, [&](const open_directory& d) { return d.pid != self; });
  for (const open_directory& d : g_open_directories) {
    if (d.dev == id.first && d.ino == id.second) {
      throw open_failed("instadump: the store in " + dir.string() +
                        " is already open in this process; LMDB cannot open one store twice in a process: "
                        "share the open snapshot_store instead");
    }
  }
  g_open_directories.push_back({id.first, id.second, self});
}

void unregister_open_directory(std::pair<dev_t, ino_t> id) {
  instadump::detail::lock_guard lock(g_open_mutex);
  const pid_t self = ::getpid();
  std::erase_if(g_open_directories, [&](const open_directory& d) {
    return d.pid == self && d.dev == id.first && d.ino == id.second;
  });
}

}  // namespace instadump::storage

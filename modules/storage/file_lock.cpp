// Single-writer flock on <dir>/instadump.lock (see file_lock.h).
#include "storage/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/errors.h"
#include "storage/error_advice.h"

namespace instadump::storage {

directory_lock::directory_lock(const std::filesystem::path& dir) {
  const std::filesystem::path file = dir / "instadump.lock";
  fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    const int err = errno;
    throw open_failed("instadump: cannot create the writer lock file " + file.string() + ": " +
                      std::strerror(err) + "; the store directory must be writable");
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK) {
      throw locked_by_other_process(
          "instadump: the store in " + dir.string() +
          " is already open for writing (by another process, or by another snapshot_store in this one); " +
          advice::one_writer);
    }
    throw open_failed("instadump: cannot lock " + file.string() + ": " + std::strerror(err));
  }
}

directory_lock::~directory_lock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace instadump::storage

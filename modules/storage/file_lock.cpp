// Single-writer flock on <dir>/instadump.lock (see file_lock.h).
#include "storage/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "common/errors.h"
#include "storage/error_advice.h"
#include "storage/io_errors.h"

namespace instadump::storage {

directory_lock::directory_lock(const std::filesystem::path& dir) {
  const std::filesystem::path file = dir / "instadump.lock";
  fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    const int err = errno;
    const bool permission = err == EACCES || err == EPERM || err == EROFS;
    throw open_failed("instadump: cannot create the writer lock file " + file.string() + ": " +
                      describe_errno("open", err) +
                      (permission ? "; the store directory must be writable"
                                  : "; an I/O or system failure, not a damaged store: check the disk and try again"));
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
    throw open_failed("instadump: cannot lock " + file.string() + ": " + describe_errno("flock", err));
  }
}

directory_lock::~directory_lock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace instadump::storage

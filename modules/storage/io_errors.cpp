// Words for operating-system failures under the store (see io_errors.h).
#include "storage/io_errors.h"

#include <lmdb.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>

namespace instadump::storage {

std::string describe_errno(const char* call, int err) {
  const char* name = ::strerrorname_np(err);
  return std::string(call) + ": " + std::strerror(err) + " (errno " + std::to_string(err) +
         (name != nullptr ? std::string(", ") + name : std::string()) + ")";
}

namespace {

struct free_space {
  bool known = false;
  std::uint64_t available = 0;
  std::uint64_t total = 0;
};

free_space free_space_of(const std::filesystem::path& dir) {
  struct statvfs st;
  if (::statvfs(dir.c_str(), &st) != 0) return {};
  return {true, std::uint64_t{st.f_bavail} * st.f_frsize, std::uint64_t{st.f_blocks} * st.f_frsize};
}

bool nearly_full(const free_space& space, std::uint64_t wanted_bytes) {
  constexpr std::uint64_t kSlack = std::uint64_t{1} << 20;
  return space.known && space.available < wanted_bytes + kSlack;
}

}  // namespace

bool filesystem_nearly_full(const std::filesystem::path& dir, std::uint64_t wanted_bytes) {
  return nearly_full(free_space_of(dir), wanted_bytes);
}

std::string describe_write_failure(int code, const std::string& what, const std::filesystem::path& dir,
                                   std::uint64_t wanted_bytes) {
  if (code == MDB_PANIC) {
    return what + "; an earlier write of the environment failed, and LMDB refuses it from then on: close and "
                  "reopen the store (the last durable snapshot is intact) and check the disk";
  }
  const free_space space = free_space_of(dir);
  const bool full = code == ENOSPC || code == EDQUOT || (code == EIO && nearly_full(space, wanted_bytes));
  if (!full) return what;
  std::string text = "the filesystem holding " + dir.string() + " is full";
  if (code == EDQUOT) text = "the disk quota of the filesystem holding " + dir.string() + " is used up";
  if (space.known) {
    text += " (" + std::to_string(space.available) + " of " + std::to_string(space.total) + " bytes available)";
  }
  return text + ": free space there, then save again [" + what + "]";
}

}  // namespace instadump::storage

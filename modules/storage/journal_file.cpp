// The journal file: frame layout, reading back, appending (see journal_file.h).
#include "storage/journal_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>

#include "storage/test_hooks.h"

namespace instadump::storage {
namespace {

journal_io_error io_error(const char* what, const std::filesystem::path& path, bool flush = false) {
  const int code = errno;
  return journal_io_error(code, std::string(what) + " " + path.string() + ": " + std::strerror(code), flush);
}

std::vector<std::byte> read_whole(int fd, const std::filesystem::path& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) throw io_error("cannot stat", path);
  std::vector<std::byte> bytes(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::pread(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw io_error("cannot read", path);
    if (n == 0) break;  // shrunk meanwhile: what was read is all there is
    done += static_cast<std::size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

}  // namespace

journal_io_error::journal_io_error(int code, const std::string& what, bool flush)
    : std::runtime_error(what), code_(code), flush_(flush) {}

journal_file::journal_file(const std::filesystem::path& dir, std::uint64_t capacity)
    : path_(dir / "journal.log"), capacity_(capacity / 16 * 16) {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) throw io_error("cannot open", path_);
  struct stat st;
  if (::fstat(fd_, &st) != 0) {
    const journal_io_error e = io_error("cannot stat", path_);
    ::close(fd_);
    throw e;
  }
  size_ = static_cast<std::uint64_t>(st.st_size);
}

journal_file::~journal_file() {
  if (fd_ >= 0) ::close(fd_);
}

journal_contents parse_journal_contents(std::span<const std::byte> bytes) {
  journal_contents contents;
  const std::size_t half = bytes.size() / 2 / 8 * 8;
  for (const std::size_t start : {std::size_t{0}, half}) {
    const std::span<const std::byte> part = start == 0 ? bytes.first(half) : bytes.subspan(half);
    std::vector<journal_frame> frames = parse_journal_frames(part);
    if (!contents.damage) {
      if (std::optional<damaged_frame> d = find_damaged_frame(part, frames)) {
        d->offset += start;
        contents.damage = d;
      }
    }
    for (journal_frame& f : frames) {
      f.offset += start;
      contents.frames.push_back(std::move(f));
    }
  }
  return contents;
}

journal_contents read_journal_contents(const std::filesystem::path& dir) {
  const std::filesystem::path path = dir / "journal.log";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return {};
  if (fd < 0) throw io_error("cannot open", path);
  std::vector<std::byte> bytes;
  try {
    bytes = read_whole(fd, path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return parse_journal_contents(bytes);
}

std::vector<journal_frame> journal_file::read_frames() const { return parse_journal_contents(read_whole(fd_, path_)).frames; }

void journal_file::start_over() {
  if (size_ != 0 && size_ != capacity_) {
    if (::ftruncate(fd_, 0) != 0) throw io_error("cannot truncate", path_);
    size_ = 0;
  }
  restart();
}

bool journal_file::fits_a_half(std::uint64_t payload_bytes) const noexcept {
  return kJournalFrameHeaderBytes + payload_bytes <= half_bytes();
}

bool journal_file::fits(std::uint64_t payload_bytes) const noexcept {
  return kJournalFrameHeaderBytes + payload_bytes <= half_bytes() - tail_;
}

void journal_file::switch_half() noexcept {
  half_ ^= 1;
  tail_ = 0;
}

// Writes zeros up to the capacity (a preallocation that fallocate would make
// "unwritten", which the first write then converts: a metadata change at
// every append), then syncs the file and the directory entry once.
void journal_file::grow() {
  if (size_ >= capacity_) return;
  static const std::vector<std::byte> zeros(std::size_t{1} << 20);
  for (std::uint64_t at = size_; at < capacity_;) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(zeros.size(), capacity_ - at));
    const ssize_t w = ::pwrite(fd_, zeros.data(), n, static_cast<off_t>(at));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) throw io_error("cannot preallocate", path_);
    at += static_cast<std::uint64_t>(w);
  }
  if (::fsync(fd_) != 0) throw io_error("cannot flush", path_, true);
  const int dir = ::open(path_.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) throw io_error("cannot open the directory of", path_);
  const int rc = ::fsync(dir);
  ::close(dir);
  if (rc != 0) throw io_error("cannot flush the directory of", path_, true);
  size_ = capacity_;
}

void journal_file::append(std::uint64_t snapshot_id, std::uint64_t unpacked_bytes,
                          std::span<const std::span<const std::byte>> parts, bool durable) {
  grow();
  std::byte header[kJournalFrameHeaderBytes];
  fill_journal_frame_header(header, snapshot_id, unpacked_bytes, parts);

  std::vector<iovec> iov;
  iov.reserve(parts.size() + 1);
  iov.push_back({header, sizeof header});
  for (const auto& p : parts) iov.push_back({const_cast<std::byte*>(p.data()), p.size()});
  const std::uint64_t start = static_cast<std::uint64_t>(half_) * half_bytes();
  std::uint64_t at = start + tail_;
  std::size_t first = 0;
  while (first < iov.size()) {
    const ssize_t n = ::pwritev(fd_, iov.data() + first, static_cast<int>(std::min<std::size_t>(iov.size() - first, IOV_MAX)),
                                static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw io_error("cannot write", path_);
    at += static_cast<std::uint64_t>(n);
    for (std::size_t left = static_cast<std::size_t>(n); left > 0;) {  // skip what was written
      if (left >= iov[first].iov_len) {
        left -= iov[first].iov_len;
        ++first;
      } else {
        iov[first].iov_base = static_cast<std::byte*>(iov[first].iov_base) + left;
        iov[first].iov_len -= left;
        left = 0;
      }
    }
  }
  if (durable) {
    const int injected = detail::take_injected_sync_failure();
    if (injected != 0) {
      errno = injected;
      throw io_error("cannot flush", path_, true);
    }
    if (::fdatasync(fd_) != 0) throw io_error("cannot flush", path_, true);
  }
  tail_ = at - start;
  if (at > size_) size_ = at;
}

}  // namespace instadump::storage

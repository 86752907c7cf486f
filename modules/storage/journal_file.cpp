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

// Reads up to `bytes.size()` bytes at `at`; returns how many there were
// (fewer at the end of the file).
std::size_t read_at(int fd, std::span<std::byte> bytes, std::uint64_t at, const std::filesystem::path& path) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::pread(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(at + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw io_error("cannot read", path);
    if (n == 0) break;  // shrunk meanwhile: what was read is all there is
    done += static_cast<std::size_t>(n);
  }
  return done;
}

// The first bytes of a half a reader reads; it reads more (four times as
// much each time) while the frames go on.
constexpr std::size_t kFirstRead = std::size_t{64} << 10;

// One half of a journal file as far as it has been read.
struct half_read {
  std::uint64_t start = 0;   // in the file
  std::uint64_t length = 0;  // of the half
  std::vector<std::byte> bytes;
  std::size_t got = 0;  // bytes read so far (fewer than bytes.size(): the file ended)

  // Reads on up to `want` bytes of the half; the bytes read before stay (the
  // file only gains frames behind them, or starts over: frames that do not
  // fit together are refused later, by id and checksum).
  void read_up_to(int fd, const std::filesystem::path& path, std::uint64_t want) {
    bytes.resize(static_cast<std::size_t>(std::min(want, length)));
    got += read_at(fd, std::span(bytes).subspan(got), start + got, path);
  }
  bool all() const { return got < bytes.size() || bytes.size() == length; }
  std::span<const std::byte> read() const { return std::span(bytes).first(got); }
};

// Walks `h`, reading more of it while its frames go on; adds them and a
// damaged frame (at most one per file) to `contents`.
void walk_half(int fd, const std::filesystem::path& path, half_read& h, std::uint64_t keep_from,
               journal_contents& contents) {
  for (;;) {
    journal_walk walk = walk_journal_frames(h.read(), 0, keep_from);
    if (!h.all() && (walk.stopped_at_frame || h.got - walk.end < kJournalFrameHeaderBytes)) {
      h.read_up_to(fd, path, h.bytes.size() * 4);  // the frames may go on
      continue;
    }
    if (!contents.damage) {
      if (std::optional<damaged_frame> d = find_damaged_frame(h.read(), walk)) {
        d->offset += h.start;
        contents.damage = d;
      }
    }
    for (journal_frame& f : walk.frames) {
      f.offset += h.start;
      contents.frames.push_back(std::move(f));
    }
    return;
  }
}

// The frames of both halves of the file open as `fd` (see
// read_journal_contents).
journal_contents read_contents(int fd, const std::filesystem::path& path, std::uint64_t keep_from) {
  struct stat st;
  if (::fstat(fd, &st) != 0) throw io_error("cannot stat", path);
  const std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
  const std::uint64_t middle = size / 2 / 8 * 8;
  half_read halves[2];
  halves[0].length = middle;
  halves[1].start = middle;
  halves[1].length = size - middle;
  std::uint64_t first_ids[2];
  for (int i = 0; i < 2; ++i) {
    halves[i].read_up_to(fd, path, kFirstRead);
    first_ids[i] = first_frame_id(halves[i].read());
  }
  // Writing goes on at the start of a half, so the half whose first frame
  // has the larger id was started last, after every frame of the other was
  // written. When that id is not beyond keep_from, the other half holds
  // nothing from keep_from on: it is not walked (after a burst of saves it
  // may be full of frames that a reader would walk on every read).
  const int later = first_ids[1] > first_ids[0] ? 1 : 0;
  const bool skip_earlier = keep_from != 0 && first_ids[later] != 0 && first_ids[later] <= keep_from;
  journal_contents contents;
  for (int i = 0; i < 2; ++i) {
    if (skip_earlier && i != later) continue;
    walk_half(fd, path, halves[i], keep_from, contents);
  }
  return contents;
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

journal_contents read_journal_contents(const std::filesystem::path& dir, std::uint64_t keep_from) {
  const std::filesystem::path path = dir / "journal.log";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return {};
  if (fd < 0) throw io_error("cannot open", path);
  try {
    journal_contents contents = read_contents(fd, path, keep_from);
    ::close(fd);
    return contents;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

std::vector<journal_frame> journal_file::read_frames() const { return read_contents(fd_, path_, 0).frames; }

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
  tail_ = at - start;
  if (at > size_) size_ = at;
  unflushed_ = true;
  if (durable) flush();
}

void journal_file::flush() {
  if (!unflushed_) return;
  const int injected = detail::take_injected_sync_failure();
  if (injected != 0) {
    errno = injected;
    throw io_error("cannot flush", path_, true);
  }
  if (::fdatasync(fd_) != 0) throw io_error("cannot flush", path_, true);
  unflushed_ = false;
}

}  // namespace instadump::storage

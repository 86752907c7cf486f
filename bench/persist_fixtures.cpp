// Scratch directories and the file savers of the baselines (see
// persist_fixtures.h).
#include "persist_fixtures.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <system_error>

namespace persist_bench {
namespace {

fs::path bench_root() {
  static fs::path root = [] {
    std::string pattern = (fs::temp_directory_path() / "instadump-bench-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    return fs::path(pattern);
  }();
  return root;
}

}  // namespace

fs::path fresh_dir(const std::string& name) {
  fs::path p = bench_root() / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

void remove_scratch() {
  std::error_code ec;
  fs::remove_all(bench_root(), ec);
}

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(what);
}

void write_file_durably(const fs::path& path, const char* data, std::size_t size) {
  fs::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  check(fd >= 0, "open");
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::write(fd, data + done, size - done);
    check(n > 0, "write");
    done += static_cast<std::size_t>(n);
  }
  check(::fdatasync(fd) == 0, "fdatasync");
  ::close(fd);
  check(std::rename(tmp.c_str(), path.c_str()) == 0, "rename");
}

void sync_directory(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  check(fd >= 0, "open (directory)");
  check(::fsync(fd) == 0, "fsync (directory)");
  ::close(fd);
}

}  // namespace persist_bench

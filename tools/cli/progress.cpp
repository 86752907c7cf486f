// progress.h: a one-line meter on a terminal's stderr.
#include "progress.h"

#include <unistd.h>

#include <cstdio>

namespace instadump::cli {
namespace {

std::string with_commas(std::uint64_t n) {
  std::string digits = std::to_string(n);
  for (int at = static_cast<int>(digits.size()) - 3; at > 0; at -= 3) digits.insert(static_cast<std::size_t>(at), ",");
  return digits;
}

}  // namespace

bool progress_meter::stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

void progress_meter::start(const std::string& what) {
  what_ = what;
  done_ = 0;
  total_ = 0;
}

void progress_meter::draw(bool force) {
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  std::fprintf(stderr, "\r\033[K  %s: %s / %s", what_.c_str(), with_commas(done_).c_str(), with_commas(total_).c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void progress_meter::finish() {
  if (!drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace instadump::cli

// Progress of a long show/export on stderr, only when stderr is a terminal
// (never in a pipe or a log): "  shop::stock: 420,000 / 1,000,000".
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace instadump::cli {

class progress_meter {
 public:
  // Shows nothing unless `enabled` (pass stderr_is_terminal()).
  explicit progress_meter(bool enabled) : enabled_(enabled) {}
  ~progress_meter() { finish(); }
  progress_meter(const progress_meter&) = delete;
  progress_meter& operator=(const progress_meter&) = delete;

  // A new value begins (its name is shown).
  void start(const std::string& what);
  // The value's outermost collection has `total` more elements.
  void expect(std::uint64_t total) { total_ += total; }
  // One element was written; redraws at most ten times a second.
  void advance() {
    if (enabled_ && (++done_ & 0xfff) == 0) draw(false);
  }
  // Clears the line.
  void finish();

  static bool stderr_is_terminal();

 private:
  void draw(bool force);

  bool enabled_;
  bool drawn_ = false;
  std::string what_;
  std::uint64_t done_ = 0;
  std::uint64_t total_ = 0;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace instadump::cli

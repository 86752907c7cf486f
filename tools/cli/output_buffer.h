// A buffered writer to a stdio stream: values are written as they are
// decoded, in 64 KiB pieces, so that output of any size costs a fixed
// amount of memory. Without a stream it collects the text (take()), for
// the short renderings of `diff`.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

namespace instadump::cli {

class output_buffer {
 public:
  explicit output_buffer(std::FILE* to) : to_(to) { buffer_.reserve(kFlushAt + 4096); }
  output_buffer() : to_(nullptr) {}
  ~output_buffer() { flush(); }
  output_buffer(const output_buffer&) = delete;
  output_buffer& operator=(const output_buffer&) = delete;

  void put(std::string_view s) {
    buffer_.append(s);
    if (buffer_.size() >= kFlushAt) flush();
  }
  void put(char c) {
    buffer_.push_back(c);
    if (buffer_.size() >= kFlushAt) flush();
  }
  // The text collected so far (without a stream).
  std::string take() { return std::exchange(buffer_, {}); }
  void flush() {
    if (to_ == nullptr) return;
    if (!buffer_.empty()) std::fwrite(buffer_.data(), 1, buffer_.size(), to_);
    buffer_.clear();
    std::fflush(to_);
  }

 private:
  static constexpr std::size_t kFlushAt = 64 * 1024;
  std::FILE* to_;
  std::string buffer_;
};

}  // namespace instadump::cli

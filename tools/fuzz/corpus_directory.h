// Where a libFuzzer target's LLVMFuzzerInitialize writes its seeds: the
// corpus directory libFuzzer grows, which is the first command-line argument
// that is a directory (options start with '-').
#pragma once

#include <filesystem>
#include <optional>
#include <system_error>

namespace fuzz_support {

inline std::optional<std::filesystem::path> corpus_directory(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::error_code ec;
    if (argv[i][0] != '-' && std::filesystem::is_directory(argv[i], ec)) return std::filesystem::path(argv[i]);
  }
  return std::nullopt;
}

}  // namespace fuzz_support

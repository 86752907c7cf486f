// Damaging a stored file on purpose, for the tests of what a load reports.
#pragma once

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace test_util {

// Zeroes one byte (the fourth) of the first run of `run` bytes equal to
// `pattern` in `file`; returns whether there was such a run. Tests store
// values of one recognizable byte pattern to find their bytes on disk.
inline bool damage_first_run(const std::filesystem::path& file, char pattern, std::size_t run) {
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::size_t at = bytes.find(std::string(run, pattern));
  if (at == std::string::npos) return false;
  bytes[at + 3] = 0;
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
  return true;
}

}  // namespace test_util

// Damages a stored value in a closed store, for the tests of what loading
// does with a damaged snapshot.
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace test_util {

// Changes one byte inside the first run of 4096 `fill` bytes in `dir`'s
// data.mdb (a value written as such a run); returns whether it found one.
// The store must be closed.
inline bool damage_run_of(const std::filesystem::path& dir, char fill) {
  const auto file = dir / "data.mdb";
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const auto at = bytes.find(std::string(4096, fill));
  if (at == std::string::npos) return false;
  bytes[at + 100] = fill == 'X' ? 'Y' : 'X';
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
  return true;
}

}  // namespace test_util

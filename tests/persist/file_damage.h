// Damaging a stored file on purpose, for the tests of what a load reports.
#pragma once

#include <catch2/catch.hpp>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

import instadump;

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

// Damages the first run of 64 bytes 0x5a (values a test stored in that
// pattern) in the data.mdb of the store in `db`, no session open, then
// returns the message of the corrupt_data that setup(db) throws; the test
// fails when there is no such run or the store loads anyway.
inline std::string load_error_after_damage(const std::filesystem::path& db) {
  REQUIRE(damage_first_run(db / "data.mdb", '\x5a', 64));
  try {
    instadump::setup(db);
  } catch (const instadump::corrupt_data& e) {
    return e.what();
  }
  FAIL("a damaged chunk loaded");
  return {};
}

}  // namespace test_util

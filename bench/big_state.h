// The "big state" benchmarks' records (issue 22): 1,000,000 records
// {int64, double, string} keyed by int64, kept in a ref<pmap> and, for the
// baselines, a ref<std::map>. No Cap'n Proto here: instadump-codegen scans
// this header (through big_state.cpp) and generates the codecs.
#pragma once

#include <cstdint>
#include <map>
#include <string>

import instadump;

namespace bench {

struct record {
  std::int64_t id = 0;
  double score = 0;
  std::string name;
  bool operator==(const record&) const = default;
};

// The same records as a member of a struct state (saved member by member).
struct world {
  std::int64_t tick = 0;
  std::string name;
  instadump::pmap<std::int64_t, record> records;
};

inline record make_record(std::int64_t i) {
  return record{i, 0.5 * static_cast<double>(i), "record-" + std::to_string(i)};
}

}  // namespace bench

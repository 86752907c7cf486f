// State keys of any length a store holds: longer than LMDB's 511-byte keys,
// journaled and written directly, they save and load; one longer than a
// stored name can be (common/limits.h, key_bytes: lowered here) is refused
// at save with limit_exceeded, and the previous snapshot stays intact.
#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/limits.h"
#include "temp_dir.h"
#include "test_state.h"

import instadump;

namespace {

// A ref registered under `key` for as long as the object lives.
struct keyed_state {
  explicit keyed_state(const std::string& key) : reg(value, key, test_state::int64_schema, test_state::long_codec) {}
  instadump::ref<long> value{0};
  instadump::state_registration<long> reg;
};

struct lowered_ceilings {
  explicit lowered_ceilings(const instadump::limits::save_ceilings& c) { instadump::limits::testing::lower(c); }
  ~lowered_ceilings() { instadump::limits::testing::reset(); }
};

}  // namespace

TEST_CASE("keys longer than LMDB's keys save and load, journaled and not", "[persist]") {
  // The snapshot of the first set fits the journal (a quarter of its 4 MiB);
  // the second, with a name of 1 MiB, is written into data.mdb directly.
  for (const std::vector<std::size_t>& lengths : {std::vector<std::size_t>{511, 512, 64 * 1024},
                                                   std::vector<std::size_t>{1024 * 1024}}) {
    INFO("longest key " << lengths.back());
    instadump::shutdown();
    test_util::temp_dir dir;
    std::vector<std::unique_ptr<keyed_state>> states;
    for (std::size_t length : lengths) {
      states.push_back(std::make_unique<keyed_state>(std::string(length, 'k') + std::to_string(length)));
    }
    instadump::setup(dir.db());
    for (std::size_t i = 0; i < states.size(); ++i) {
      instadump::dosync([&] { states[i]->value.set(static_cast<long>(i) + 7); });
    }
    instadump::save_all();
    instadump::shutdown();
    for (auto& s : states) instadump::dosync([&] { s->value.set(-1); });
    instadump::setup(dir.db());
    for (std::size_t i = 0; i < states.size(); ++i) CHECK(states[i]->value.deref() == static_cast<long>(i) + 7);
    instadump::shutdown();
  }
}

TEST_CASE("a key longer than a stored name can be is refused at save", "[persist][errors]") {
  instadump::shutdown();
  test_util::temp_dir dir;
  keyed_state fits(std::string(1000, 'f'));
  instadump::setup(dir.db());
  instadump::dosync([&] { fits.value.set(1); });
  instadump::save_all();
  {
    lowered_ceilings lowered({.key_bytes = 1000});
    keyed_state too_long(std::string(1001, 'x'));
    instadump::dosync([&] { fits.value.set(2); });
    try {
      instadump::save_all();
      FAIL("a key of 1001 bytes was saved");
    } catch (const instadump::limit_exceeded& e) {
      CHECK(e.limit() == 1000);
      CHECK(e.measured() == 1001);
      CHECK_THAT(e.what(), Catch::StartsWith("instadump: cannot save the value named 'xxxxxxxxxx") &&
                               Catch::Contains("its name is 1001 bytes long, and a name is stored as one LMDB value "
                                               "of at most 1000 bytes") &&
                               Catch::Contains("the previous snapshots are intact"));
    }
  }
  // Nothing of the refused save was written; without the long key, saves work.
  instadump::shutdown();
  instadump::setup(dir.db());
  CHECK(fits.value.deref() == 1);
  instadump::dosync([&] { fits.value.set(3); });
  instadump::save_all();
  instadump::shutdown();
  instadump::setup(dir.db());
  CHECK(fits.value.deref() == 3);
  instadump::shutdown();
}

// A replicated copy an earlier build made -- tables of version 1, dumped by
// pg_dump into data/copy-made-by-v1.sql (how: its header) -- is upgraded by
// the first writer of this build that connects, and every snapshot in it
// restores as it was saved. Readers, which never write, refuse version 1
// with a message that says what upgrades it.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fresh_session.h"
#include "replication_states.h"
#include "test_state.h"

import instadump;

using namespace replication_test;

namespace {

using int_map = test_state::int64_map;

// What the fixture's writer saved (see the fixture's header): snapshot 1
// holds generation 1, `gone` = 7 and the map of 2,000 numbers; snapshot 2
// generation 2 and the map changed at 2 keys; snapshot 3 generation 3.
int_map fixture_map(std::uint64_t seq) {
  std::vector<std::pair<std::int64_t, std::int64_t>> entries;
  for (std::int64_t i = 0; i < 2000; ++i) entries.emplace_back(i, i * 3);
  int_map m = int_map::from_sorted(entries.begin(), entries.end());
  return seq == 1 ? m : m.set(1234, -1).erase(99);
}

// A server of its own holding the fixture: its tables are of version 1,
// the other test cases' of version 2.
struct copy_made_by_v1 {
  pg_test::pg_server pg;
  copy_made_by_v1() { pg.psql_file(INSTADUMP_REPLICATION_TEST_DATA "/copy-made-by-v1.sql"); }
  std::string version() const { return pg.psql("select max(version) from instadump.format"); }
  instadump::setup_options writer(std::uint64_t restore_snapshot = 0) const {
    instadump::setup_options o;
    o.replicate.url = pg.url();
    o.replicate.store = "made-by-v1";
    o.replicate.mode = instadump::replication::sync;
    o.replicate.restore_snapshot = restore_snapshot;
    return o;
  }
};

struct fixture_states {
  instadump::ref<int_map> map{};
  instadump::state_registration<int_map> map_reg{map, "replication::map", test_state::map_schema,
                                                 test_state::map_codec};
  instadump::ref<long> gone{0};
  instadump::state_registration<long> gone_reg{gone, "replication::gone", test_state::int64_schema,
                                               test_state::long_codec};
};

}  // namespace

TEST_CASE("a copy with tables of version 1 is upgraded by a writer, and each of its snapshots restores as saved",
          "[replication][upgrade]") {
  copy_made_by_v1 copy;
  REQUIRE(copy.version() == "1");
  fixture_states states;
  for (std::uint64_t seq : {1, 2, 3}) {
    INFO("replicated snapshot " << seq);
    test_util::fresh_session s;
    instadump::setup(s.dir.db(), copy.writer(seq));
    CHECK(copy.version() == "2");
    CHECK(counter.deref() == static_cast<long>(seq));
    CHECK(text.deref() == text_for(static_cast<long>(seq)));
    CHECK(states.map.deref() == fixture_map(seq));
    if (seq == 1) CHECK(states.gone.deref() == 7);
    instadump::shutdown();
  }
  // The upgraded copy goes on: a save replicates, and a restore elsewhere
  // has it, the map rebuilt from the chunks version 1 stored.
  const std::string rows_before = copy.pg.psql("select count(*) from instadump.entries");
  {
    test_util::fresh_session s;
    instadump::setup(s.dir.db(), copy.writer());
    set_generation(9);
    instadump::save_all();
    instadump::shutdown();
  }
  CHECK(std::stol(copy.pg.psql("select count(*) from instadump.entries")) > std::stol(rows_before));
  set_generation(0);
  instadump::dosync([&] { states.map.set(int_map{}); });
  test_util::fresh_session s;
  instadump::setup(s.dir.db(), copy.writer());
  CHECK(counter.deref() == 9);
  CHECK(text.deref() == text_for(9));
  CHECK(states.map.deref() == fixture_map(3));
  instadump::shutdown();
}

TEST_CASE("a reader refuses tables of version 1, saying that a writer or a restore of this build upgrades them",
          "[replication][upgrade]") {
  copy_made_by_v1 copy;
  test_util::fresh_session s;
  instadump::setup_options o = copy.writer();
  o.read_only = true;
  o.replicate.follow = false;
  try {
    instadump::setup(s.dir.db(), o);
    FAIL("a reader read tables of version 1");
  } catch (const instadump::open_failed& e) {  // (the reader's setup names the copy it could not read)
    const std::string what = e.what();
    CHECK(what.find("version 1") != std::string::npos);
    CHECK(what.find("upgrade") != std::string::npos);
  }
  CHECK(copy.version() == "1");  // the reader changed nothing
}

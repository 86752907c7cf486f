// A pmap state (saved node by node as chunks) replicates as chunks too:
// after one change only the few new chunks travel, and a restore rebuilds
// the map from the chunks the copy holds; so does a struct state's member.
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

// The persistence tests' pmap state (test_state.h): its schema and codec.
using int_map = test_state::int64_map;
using test_state::map_codec;
using test_state::map_schema;

int_map numbers(std::int64_t n, std::int64_t factor = 3) {
  std::vector<std::pair<std::int64_t, std::int64_t>> entries;
  for (std::int64_t i = 0; i < n; ++i) entries.emplace_back(i, i * factor);
  return int_map::from_sorted(entries.begin(), entries.end());
}

instadump::setup_options replicated_map(const std::string& store) {
  instadump::setup_options o;
  o.replicate = replicate(store, instadump::replication::sync);
  return o;
}

void save_map(instadump::ref<int_map>& state, const int_map& m) {
  instadump::dosync([&] { state.set(m); });
  instadump::save_all();
}

long chunk_rows(const std::string& store) {
  return std::stol(server().psql("select count(*) from instadump.chunks where store = '" + store + "'"));
}

}  // namespace

TEST_CASE("a pmap state replicates as chunks: one change ships a few, a restore rebuilds the map",
          "[replication][chunks]") {
  test_util::fresh_session s;
  instadump::ref<int_map> state{};
  instadump::state_registration<int_map> reg(state, "replication::map", map_schema, map_codec);
  instadump::setup_options o;
  o.replicate = replicate("chunked", instadump::replication::sync);
  instadump::setup(s.dir.db(), o);
  int_map model = numbers(20'000);
  instadump::dosync([&] { state.set(model); });
  instadump::save_all();
  const long first = chunk_rows("chunked");
  REQUIRE(first > 100);  // the map's nodes, not one value

  model = model.set(12'345, -1);
  instadump::dosync([&] { state.set(model); });
  instadump::save_all();
  const long added = chunk_rows("chunked") - first;
  CHECK(added >= 1);
  CHECK(added <= 10);  // the path to the changed leaf
  instadump::shutdown();

  instadump::dosync([&] { state.set(int_map{}); });
  test_util::temp_dir elsewhere;
  instadump::setup(elsewhere.db(), o);
  CHECK(state.deref() == model);
  // And the restored store goes on saving node by node.
  model = model.erase(7);
  instadump::dosync([&] { state.set(model); });
  instadump::save_all();
  instadump::shutdown();
  instadump::dosync([&] { state.set(int_map{}); });
  test_util::temp_dir third;
  instadump::setup(third.db(), o);
  CHECK(state.deref() == model);
  instadump::shutdown();
}

TEST_CASE("a restored store's chunk ids go on past every id the copy holds, so a later restore reads its chunks",
          "[replication][chunks]") {
  // The newest snapshot reaches none of the copy's chunks (the map was
  // emptied), so the restored store's own chunks would start at 1 again --
  // ids the copy holds for the old map's nodes, which would then count as
  // shipped, and a later restore would assemble the old nodes.
  test_util::fresh_session s;
  instadump::ref<int_map> state{};
  instadump::state_registration<int_map> reg(state, "replication::map", map_schema, map_codec);
  const instadump::setup_options o = replicated_map("chunk-ids");
  instadump::setup(s.dir.db(), o);
  save_map(state, numbers(5'000));
  save_map(state, int_map{});
  instadump::shutdown();

  test_util::temp_dir restored;
  instadump::setup(restored.db(), o);
  CHECK(state.deref().empty());
  const int_map other = numbers(5'000, 7);  // the same shape, other bytes
  save_map(state, other);
  instadump::shutdown();

  instadump::dosync([&] { state.set(int_map{}); });
  test_util::temp_dir again;
  instadump::setup(again.db(), o);
  CHECK(state.deref() == other);
  instadump::shutdown();
}

TEST_CASE("a chunk the copy holds under the same id with other bytes fails the save, naming store and chunk",
          "[replication][chunks]") {
  test_util::fresh_session s;
  instadump::ref<int_map> state{};
  instadump::state_registration<int_map> reg(state, "replication::map", map_schema, map_codec);
  instadump::setup(s.dir.db(), replicated_map("chunk-clash"));
  int_map model = numbers(5'000);
  save_map(state, model);
  // Rows under the ids the next save's chunks take (the copy holds every
  // chunk this writer wrote, so they start past its largest), put there
  // behind the writer's back.
  server().psql("insert into instadump.chunks (store, id, bytes) select 'chunk-clash', m + g, '\\x00'::bytea "
                "from (select max(id) as m from instadump.chunks where store = 'chunk-clash') t, "
                "generate_series(1, 64) g");
  model = model.set(17, -17);
  instadump::dosync([&] { state.set(model); });
  try {
    instadump::save_all();
    FAIL("the save was acknowledged over chunks the copy holds with other bytes");
  } catch (const instadump::replication_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("store \"chunk-clash\"") && Catch::Contains("chunk ") &&
                             Catch::Contains("other bytes"));
  }
  CHECK(instadump::replication_status().replicated_seq == 1);
  instadump::shutdown();
}

TEST_CASE("a store whose chunk ids the copy has used already is refused when it attaches", "[replication][chunks]") {
  test_util::fresh_session s;
  instadump::ref<int_map> state{};
  instadump::state_registration<int_map> reg(state, "replication::map", map_schema, map_codec);
  const instadump::setup_options o = replicated_map("chunk-attach");
  instadump::setup(s.dir.db(), o);
  save_map(state, numbers(2'000));
  instadump::shutdown();
  // As a store restored by a build that did not move its ids on leaves
  // it: the copy holds an id the store will hand out.
  server().psql("insert into instadump.chunks (store, id, bytes) values ('chunk-attach', 1000000, '\\x00')");
  try {
    instadump::setup(s.dir.db(), o);
    FAIL("setup attached a store whose new chunks would take the copy's ids");
  } catch (const instadump::replication_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("store \"chunk-attach\"") && Catch::Contains("1000000"));
  }
}

TEST_CASE("a struct state's pmap member replicates as chunks: one change ships a few, a restore rebuilds it",
          "[replication][chunks]") {
  test_util::fresh_session s;
  instadump::ref<test_state::holder> state{};
  instadump::state_registration<test_state::holder> reg(state, "replication::holder", test_state::holder_schema,
                                                        test_state::holder_codec);
  instadump::setup_options o;
  o.replicate = replicate("members", instadump::replication::sync);
  instadump::setup(s.dir.db(), o);
  test_state::holder model{1, numbers(20'000)};
  instadump::dosync([&] { state.set(model); });
  instadump::save_all();
  const long first = chunk_rows("members");
  REQUIRE(first > 100);  // the member's nodes, not one value

  model.numbers = model.numbers.set(12'345, -1);
  model.tick = 2;
  instadump::dosync([&] { state.set(model); });
  instadump::save_all();
  const long added = chunk_rows("members") - first;
  CHECK(added >= 1);
  CHECK(added <= 10);  // the path to the changed leaf group
  instadump::shutdown();

  // A restore into an empty directory builds the member from the copy's chunks...
  instadump::dosync([&] { state.set(test_state::holder{}); });
  test_util::temp_dir elsewhere;
  instadump::setup(elsewhere.db(), o);
  CHECK(state.deref() == model);
  // ...and the restored store goes on saving it node by node.
  model = state.deref();
  model.numbers = model.numbers.erase(7);
  instadump::dosync([&] { state.set(model); });
  const instadump::save_result after = instadump::save_all();
  CHECK(after.chunks_written <= 10);
  instadump::shutdown();
  instadump::dosync([&] { state.set(test_state::holder{}); });
  test_util::temp_dir third;
  instadump::setup(third.db(), o);
  CHECK(state.deref() == model);
  instadump::shutdown();
}

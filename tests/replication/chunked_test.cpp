// A pmap state (saved node by node as chunks) replicates as chunks too:
// after one change only the few new chunks travel, and a restore rebuilds
// the map from the chunks the copy holds.
#include <catch2/catch.hpp>

#include "instadump/capnp_compat.h"
#include <capnp/message.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "fresh_session.h"
#include "replication_states.h"
#include "test_state.capnp.h"

import instadump;

using namespace replication_test;

namespace {

using int_map = instadump::pmap<std::int64_t, std::int64_t>;
constexpr instadump::schema_identity map_schema{0x44440000cccc0001ull, 1};

void encode_map(const int_map& m, capnp::MessageBuilder& message) {
  auto b = message.initRoot<::Int64Map>();
  auto keys = b.initKeys(static_cast<unsigned>(m.size()));
  auto values = b.initValues(static_cast<unsigned>(m.size()));
  unsigned i = 0;
  for (const auto& [k, v] : m) {
    keys.set(i, k);
    values.set(i++, v);
  }
}
int_map decode_map(capnp::MessageReader& message, const instadump::schema_identity& stored) {
  if (stored.fingerprint != map_schema.fingerprint) throw std::runtime_error("not an Int64Map");
  auto r = message.getRoot<::Int64Map>();
  auto t = int_map().transient();
  for (unsigned i = 0; i < r.getKeys().size(); ++i) t.insert(r.getKeys()[i], r.getValues()[i]);
  return std::move(t).persistent();
}
constexpr instadump::state_codec<int_map> map_codec{&encode_map, &decode_map};

int_map numbers(std::int64_t n) {
  std::vector<std::pair<std::int64_t, std::int64_t>> entries;
  for (std::int64_t i = 0; i < n; ++i) entries.emplace_back(i, i * 3);
  return int_map::from_sorted(entries.begin(), entries.end());
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

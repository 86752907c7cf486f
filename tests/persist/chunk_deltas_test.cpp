// Deltas (chunk_deltas.cppm): a big pmap or pset state whose tree is stored
// saves the entries changed since its last save, not the nodes they touched;
// past the deltas' bounds a save writes the changed nodes again (a fold).
// Random changes, saved through deltas and folds, reloaded, loaded by new
// sessions and taken back to older snapshots, always give back the value
// that was saved.
#include <catch2/catch.hpp>

#include "instadump/capnp_compat.h"
#include <capnp/message.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <stdexcept>
#include <utility>
#include <vector>

#include "fresh_session.h"
#include "reachable_chunks.h"
#include "storage/chunk_format.h"
#include "storage/snapshot_store.h"
#include "test_state.h"

import instadump;

namespace {

using big_map = test_state::int64_map;
using number_set = instadump::pset<std::int64_t>;

big_map numbers(std::int64_t n) {
  std::vector<std::pair<std::int64_t, std::int64_t>> entries;
  for (std::int64_t i = 0; i < n; ++i) entries.emplace_back(i, i * 3);
  return big_map::from_sorted(entries.begin(), entries.end());
}

// A pset of int64 as an Int64Map whose values repeat the keys.
void encode_set(const number_set& s, capnp::MessageBuilder& message) {
  std::map<std::int64_t, std::int64_t> as_map;
  for (std::int64_t k : s) as_map.emplace(k, k);
  test_state::encode_int64_map(as_map, message);
}
number_set decode_set(capnp::MessageReader& message, const instadump::schema_identity&) {
  auto keys = message.getRoot<::Int64Map>().getKeys();
  auto t = number_set().transient();
  for (std::int64_t k : keys) t.insert(k);
  return std::move(t).persistent();
}
constexpr instadump::state_codec<number_set> set_codec{&encode_set, &decode_set};
constexpr instadump::schema_identity set_schema{0x44440000cccc0002ull, 1};

// How many delta links the collection `key` of the newest snapshot in `dir`
// reaches (0: its tree alone). Read with the session shut down.
std::size_t stored_links(const std::filesystem::path& dir, const std::string& key) {
  using payloads = instadump::detail::chunk_payloads;
  instadump::storage::store_options o;
  o.read_only = true;
  const auto store = instadump::storage::snapshot_store::open(dir, o);
  std::size_t links = 0;
  store->read_snapshot(store->newest()->id, [&](const instadump::storage::entry_info& e,
                                                kj::ArrayPtr<const capnp::word> words,
                                                const instadump::storage::chunk_source& chunks) {
    if (e.key != key) return;
    const payloads::descriptor d = payloads::read_descriptor(words, key);
    for (const auto& [id, bytes] : test_util::reachable_chunks(chunks, payloads::roots_of(d))) {
      if (instadump::storage::parse_chunk(bytes, id, key).node_type == instadump::detail::delta_chunks::link_type) {
        ++links;
      }
    }
  });
  return links;
}

}  // namespace

TEST_CASE("When a pmap's 64 deltas are used up one delta from its tree replaces them -- after a load that "
          "applied deltas a fold does",
          "[persist][chunks][deltas]") {
  test_util::fresh_session f;
  instadump::ref<big_map> state{};
  instadump::state_registration<big_map> reg(state, "deltas::restart", test_state::map_schema, test_state::map_codec);
  instadump::setup(f.dir.db());
  instadump::dosync([&] { state.set(numbers(2'000)); });
  instadump::save_all();  // the tree
  // Round r sets one of five keys (from `first`, 300 apart) to -r.
  const auto change = [&](std::int64_t round, std::int64_t first = 0) {
    instadump::dosync([&] { state.set(state.deref().set(first + round % 5 * 300, -round)); });
    return instadump::save_all();
  };
  for (std::int64_t round = 1; round <= 64; ++round) CHECK(change(round).chunks_written <= 2);
  // The 65th: the five keys changed since the tree, as one delta (its set
  // and its link), where a fold would rewrite their leaf groups and path.
  CHECK(change(65).chunks_written == 2);
  big_map expected = state.deref();
  instadump::shutdown();
  CHECK(stored_links(f.dir.db(), "deltas::restart") == 1);

  // A new session's value has the delta applied, so it is no tree basis:
  // when the chain is full again, it folds. (Other keys than before: a
  // delta from that value would lose the first five.)
  instadump::dosync([&] { state.set(big_map{}); });
  instadump::setup(f.dir.db());
  REQUIRE(state.deref() == expected);
  for (std::int64_t round = 66; round <= 129; ++round) change(round, 1);
  expected = state.deref();
  instadump::shutdown();
  CHECK(stored_links(f.dir.db(), "deltas::restart") == 0);
  instadump::dosync([&] { state.set(big_map{}); });
  instadump::setup(f.dir.db());
  CHECK(state.deref() == expected);
}

TEST_CASE("Random changes to a pmap state saved as deltas and folds load back equal, in new sessions and older "
          "snapshots", "[persist][chunks][deltas]") {
  test_util::fresh_session f;
  instadump::ref<big_map> state{};
  instadump::state_registration<big_map> reg(state, "deltas::map", test_state::map_schema, test_state::map_codec);
  instadump::setup_options o;
  o.keep_generations = 4;
  instadump::setup(f.dir.db(), o);

  const std::uint64_t seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  auto below = [&](std::uint64_t n) { return static_cast<std::int64_t>(rng() % n); };

  big_map model = numbers(4'000);
  std::vector<std::pair<std::uint64_t, big_map>> saved;  // snapshot id, value; newest last
  bool many_in_a_delta = false, folded = false;
  for (int round = 0; round < 150; ++round) {
    // Mostly a few changes, sometimes some hundreds, now and then more than
    // half the map (too many for a delta).
    const int kind = static_cast<int>(below(20));
    const std::int64_t changes = kind == 0 ? 2'500 + below(1'000) : kind < 5 ? 20 + below(300) : 1 + below(5);
    auto t = model.transient();
    for (std::int64_t c = 0; c < changes; ++c) {
      const std::int64_t key = below(6'000);
      if (below(3) == 0) {
        t.erase(key);
      } else {
        t.set(key, static_cast<std::int64_t>(rng()));
      }
    }
    model = std::move(t).persistent();
    if (round == 100) model = big_map{};  // empty: stored as a plain value, then a new tree
    if (round == 101) model = numbers(3'000);
    instadump::dosync([&] { state.set(model); });
    const instadump::save_result r = instadump::save_all();
    saved.emplace_back(r.snapshot_id, model);
    if (changes >= 20 && kind != 0 && r.chunks_written <= 3) many_in_a_delta = true;
    if (kind == 0 && r.chunks_written > 50) folded = true;

    if (round % 10 == 9) {  // a new session loads it
      instadump::shutdown();
      instadump::dosync([&] { state.set(big_map{}); });
      instadump::setup(f.dir.db(), o);
      REQUIRE(state.deref() == model);
    }
    if (round % 7 == 6 && saved.size() >= 3) {  // back to a kept older snapshot, and on from there
      const auto& [id, value] = saved[saved.size() - 1 - static_cast<std::size_t>(below(3))];
      instadump::reload_all(id);
      REQUIRE(state.deref() == value);
      model = value;
    }
  }
  CHECK(many_in_a_delta);  // scattered changes saved as a few chunks
  CHECK(folded);
  instadump::shutdown();
  instadump::dosync([&] { state.set(big_map{}); });
  instadump::setup(f.dir.db(), o);
  CHECK(state.deref() == model);
}

TEST_CASE("A pset state's inserts and erasures saved as deltas load back equal", "[persist][chunks][deltas]") {
  test_util::fresh_session f;
  instadump::ref<number_set> state{};
  instadump::state_registration<number_set> reg(state, "deltas::set", set_schema, set_codec);
  instadump::setup(f.dir.db());
  auto t = number_set().transient();
  for (std::int64_t i = 0; i < 5'000; ++i) t.insert(i * 2);
  number_set model = std::move(t).persistent();
  instadump::dosync([&] { state.set(model); });
  CHECK(instadump::save_all().chunks_written > 50);  // the tree
  for (std::int64_t i = 0; i < 30; ++i) {
    model = model.erase(i * 300).insert(i * 2 + 1);
    instadump::dosync([&] { state.set(model); });
    const instadump::save_result r = instadump::save_all();
    CHECK(r.chunks_written == 3);  // the keys inserted, the keys erased, the link
  }
  instadump::shutdown();
  instadump::dosync([&] { state.set(number_set{}); });
  instadump::setup(f.dir.db());
  CHECK(state.deref() == model);
}

TEST_CASE("A save that changes nothing in a pmap's entries writes no chunk", "[persist][chunks][deltas]") {
  test_util::fresh_session f;
  instadump::ref<big_map> state{};
  instadump::state_registration<big_map> reg(state, "deltas::same", test_state::map_schema, test_state::map_codec);
  instadump::setup(f.dir.db());
  instadump::dosync([&] { state.set(numbers(2'000)); });
  instadump::save_all();
  instadump::dosync([&] { state.set(state.deref().set(10, -1)); });
  instadump::save_all();
  // Set back: a new map version holding the same entries as the saved one's.
  instadump::dosync([&] { state.set(state.deref().set(10, -1)); });
  CHECK(instadump::save_all().chunks_written == 0);
  const big_map expected = state.deref();
  instadump::shutdown();
  instadump::dosync([&] { state.set(big_map{}); });
  instadump::setup(f.dir.db());
  CHECK(state.deref() == expected);
}

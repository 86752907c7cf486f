// A pmap state is saved node by node (chunked_state.cppm): a save after one
// change writes a few small chunks whatever the map's size, loads build the
// map back from its chunks, kept generations bound the store, a damaged
// chunk fails the load naming the ref, and a save after reloading an older
// snapshot refers only to chunks that snapshot holds (the safety rule).
#include <catch2/catch.hpp>

#include "instadump/capnp_compat.h"
#include <capnp/message.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "file_damage.h"
#include "fresh_session.h"
#include "storage/snapshot_store.h"
#include "test_state.h"

import instadump;

namespace {

using big_map = test_state::int64_map;
using test_state::map_codec;
using test_state::map_schema;

big_map numbers(std::int64_t n) {
  std::vector<std::pair<std::int64_t, std::int64_t>> entries;
  entries.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) entries.emplace_back(i, i * 3);
  return big_map::from_sorted(entries.begin(), entries.end());
}

// The sizes of a store no session has open.
instadump::storage::store_stats stats_of(const std::filesystem::path& dir) {
  instadump::storage::store_options o;
  o.read_only = true;
  return instadump::storage::snapshot_store::open(dir, o)->stats();
}

}  // namespace

TEST_CASE("A 1M-entry pmap state: one change saves a few small chunks -- a new session loads it back",
          "[persist][chunks]") {
  test_util::fresh_session f;
  instadump::ref<big_map> state{};
  instadump::state_registration<big_map> reg(state, "chunks::big", map_schema, map_codec);
  instadump::setup(f.dir.db());
  big_map model = numbers(1'000'000);
  instadump::dosync([&] { state.set(model); });
  const instadump::save_result first = instadump::save_all();
  CHECK(first.chunks_written > 1000);  // every node, once

  model = model.set(500'000, -1);
  instadump::dosync([&] { state.set(model); });
  const instadump::save_result one = instadump::save_all();
  INFO("bytes " << one.bytes_written << ", chunks " << one.chunks_written);
  CHECK(one.refs_written == 1);
  CHECK(one.bytes_written <= 64 * 1024);
  CHECK(one.chunks_written >= 2);   // the leaf and the path above it (a tree of 1M entries
  CHECK(one.chunks_written <= 10);  // is at most 9 levels high at the nodes' smallest fanout)

  // A new session (a new epoch) builds the map from its chunks.
  instadump::shutdown();
  CHECK(stats_of(f.dir.db()).chunk_count >= first.chunks_written);
  instadump::dosync([&] { state.set(big_map{}); });
  instadump::setup(f.dir.db());
  CHECK(state.deref() == model);
  // Loaded nodes carry their chunks' tags: the first save after a load
  // writes what changed only.
  model = state.deref().set(7, 7);
  instadump::dosync([&] { state.set(model); });
  const instadump::save_result after_load = instadump::save_all();
  CHECK(after_load.chunks_written <= 10);
  CHECK(after_load.bytes_written <= 64 * 1024);
  instadump::shutdown();
  instadump::dosync([&] { state.set(big_map{}); });
  instadump::setup(f.dir.db());
  CHECK(state.deref() == model);
}

TEST_CASE("100 saves of a pmap state with keep_generations 2 keep the store bounded", "[persist][chunks]") {
  test_util::fresh_session f;
  instadump::ref<big_map> state{};
  instadump::state_registration<big_map> reg(state, "chunks::churn", map_schema, map_codec);
  instadump::setup_options o;
  o.keep_generations = 2;
  instadump::setup(f.dir.db(), o);
  big_map model = numbers(20'000);
  instadump::dosync([&] { state.set(model); });
  instadump::save_all();
  instadump::shutdown();
  const auto start = stats_of(f.dir.db());
  instadump::setup(f.dir.db(), o);
  REQUIRE(state.deref() == model);
  model = state.deref();  // (the loaded nodes know their chunks; the old ones are of an earlier setup)
  std::uint64_t most_file = 0;
  std::size_t most_written = 0;  // by a fold
  int deltas = 0, folds = 0;
  for (std::int64_t i = 0; i < 100; ++i) {
    model = model.set(i * 197 % 20'000, i).set(20'000 + i, i);
    instadump::dosync([&] { state.set(model); });
    const std::size_t written = instadump::save_all().chunks_written;
    if (written <= 2) {  // a delta: the entries set, and its link
      ++deltas;
    } else {
      ++folds;
      most_written = std::max(most_written, written);
    }
    most_file = std::max<std::uint64_t>(most_file, std::filesystem::file_size(f.dir.db() / "data.mdb"));
  }
  instadump::shutdown();
  const auto end = stats_of(f.dir.db());
  constexpr std::uint64_t max_links = instadump::detail::delta_chunks::max_links;
  INFO("chunks " << start.chunk_count << " -> " << end.chunk_count << "; file " << start.file_bytes
                 << " -> at most " << most_file << "; " << deltas << " deltas, " << folds << " folds writing at most "
                 << most_written << " chunks");
  // Each save writes its two changed entries as a delta. When the deltas
  // since the tree reach max_links, one delta of everything changed since
  // the tree (far fewer entries than half the map) replaces their chain,
  // which is reclaimed: no save folds. (chunk_deltas_test has the folds.)
  CHECK(folds == 0);
  CHECK(deltas == 100);
  CHECK(most_written <= 2 * max_links * 4);
  // The two kept snapshots share the tree of the last fold and its deltas;
  // what older saves wrote is reclaimed. The map grew by 100 entries.
  CHECK(end.chunk_count <= start.chunk_count + most_written + 2 * max_links + 10);
  CHECK(most_file <= 2 * start.file_bytes + (1u << 20));
  instadump::dosync([&] { state.set(big_map{}); });
  instadump::setup(f.dir.db(), o);
  CHECK(state.deref() == model);
}

TEST_CASE("An older snapshot reloaded, changed and saved loads right (the safety rule)", "[persist][chunks]") {
  test_util::fresh_session f;
  instadump::ref<big_map> state{};
  instadump::state_registration<big_map> reg(state, "chunks::older", map_schema, map_codec);
  instadump::setup_options o;
  o.keep_generations = 3;
  instadump::setup(f.dir.db(), o);
  const big_map old_value = numbers(5'000);
  instadump::dosync([&] { state.set(old_value); });
  const instadump::save_result first = instadump::save_all();
  const std::uint64_t old_id = first.snapshot_id;
  big_map newer = old_value;  // (every entry changed: saved node by node, not as a delta)
  for (std::int64_t i = 0; i < 5'000; ++i) newer = newer.set(i, -i);
  instadump::dosync([&] { state.set(newer); });
  instadump::save_all();

  // Back to the old snapshot; change it; save; the old one then ages out.
  instadump::reload_all(old_id);
  REQUIRE(state.deref() == old_value);
  const big_map changed = state.deref().set(1, 1);
  instadump::dosync([&] { state.set(changed); });
  const instadump::save_result s = instadump::save_all();
  CHECK(s.chunks_written <= 2);  // a delta on the old snapshot's tree
  for (int i = 0; i < 3; ++i) {
    instadump::dosync([&] { state.set(state.deref().set(100'000 + i, i)); });
    instadump::save_all();
  }
  const big_map expected = state.deref();
  // A user's copy of an older value put back is written again, not referred
  // to: its nodes' chunks may be gone. (It differs in every entry: too many
  // for a delta.)
  instadump::dosync([&] { state.set(newer); });
  CHECK(instadump::save_all().chunks_written >= first.chunks_written / 2);
  instadump::shutdown();
  instadump::dosync([&] { state.set(big_map{}); });
  instadump::setup(f.dir.db(), o);
  CHECK(state.deref() == newer);
  CHECK(expected.size() == changed.size() + 3);
}

TEST_CASE("A damaged chunk fails the load with corrupt_data naming the ref", "[persist][chunks]") {
  test_util::fresh_session f;
  instadump::ref<big_map> state{};
  instadump::state_registration<big_map> reg(state, "chunks::damaged", map_schema, map_codec);
  instadump::setup(f.dir.db());
  // Values of one recognizable byte pattern: 0x5a5a5a5a5a5a5a5a.
  std::vector<std::pair<std::int64_t, std::int64_t>> entries;
  for (std::int64_t i = 0; i < 2'000; ++i) entries.emplace_back(i, 0x5a5a5a5a5a5a5a5all);
  instadump::dosync([&] { state.set(big_map::from_sorted(entries.begin(), entries.end())); });
  instadump::save_all();
  instadump::shutdown();
  const std::string what = test_util::load_error_after_damage(f.dir.db());
  INFO(what);
  CHECK(what.find("chunks::damaged") != std::string::npos);
  CHECK(what.find("chunk") != std::string::npos);
}

TEST_CASE("A std::map snapshot loads into a pmap state, then saves node by node", "[persist][chunks]") {
  test_util::fresh_session f;
  using std_map = std::map<std::int64_t, std::int64_t>;
  std_map entries;
  for (std::int64_t i = 0; i < 3'000; ++i) entries[i] = i * 3;
  {  // release 1: a std::map of the same schema, stored as one value (no chunk roots)
    constexpr auto decode = [](capnp::MessageReader&, const instadump::schema_identity&) -> std_map {
      throw std::runtime_error("not loaded in this test");
    };
    instadump::ref<std_map> plain{entries};
    constexpr instadump::state_codec<std_map> codec{&test_state::encode_int64_map<std_map>, +decode};
    instadump::state_registration<std_map> reg(plain, "chunks::evolved", map_schema, codec);
    instadump::setup(f.dir.db());
    CHECK(instadump::save_all().chunks_written == 0);
    instadump::shutdown();
  }
  // Release 2: the state is a pmap.
  instadump::ref<big_map> state{};
  instadump::state_registration<big_map> reg(state, "chunks::evolved", map_schema, map_codec);
  instadump::setup(f.dir.db());
  CHECK(state.deref() == numbers(3'000));
  instadump::dosync([&] { state.set(state.deref().set(1, 1)); });
  CHECK(instadump::save_all().chunks_written > 10);  // every node: none was stored as a chunk
  const big_map expected = state.deref();
  instadump::shutdown();
  instadump::dosync([&] { state.set(big_map{}); });
  instadump::setup(f.dir.db());
  CHECK(state.deref() == expected);
}

TEST_CASE("A leaf whose message outgrows a chunk's first segment is saved as one chunk and loads back",
          "[persist][chunks]") {
  // The codec pads each leaf's message with 10,000 unused words (an orphan
  // it lets go), more than the sink's first block holds, so the first
  // leaf's message spills out of the place the sink gives it, and the sink
  // encodes it again with room for all of it; later ones fit larger blocks.
  constexpr auto encode_padded = [](const big_map& m, capnp::MessageBuilder& message) {
    test_state::encode_map(m, message);
    auto padding = message.getOrphanage().newOrphan<capnp::Data>(10'000 * 8);
    padding.get()[0] = 1;
  };
  constexpr instadump::state_codec<big_map> padded{+encode_padded, &test_state::decode_map};
  test_util::fresh_session f;
  instadump::ref<big_map> state{};
  instadump::state_registration<big_map> reg(state, "chunks::padded", map_schema, padded);
  instadump::setup(f.dir.db());
  const big_map model = numbers(2000);
  instadump::dosync([&] { state.set(model); });
  const instadump::save_result saved = instadump::save_all();
  CHECK(saved.chunks_written > 10);
  CHECK(saved.bytes_written > saved.chunks_written * 10'000 * 8 / 2);  // the leaves hold their padding
  instadump::shutdown();
  instadump::dosync([&] { state.set(big_map{}); });
  instadump::setup(f.dir.db());
  CHECK(state.deref() == model);
}

// Round trips of the persistent collections (pmap, pvector, pset) through
// the generated codec and a real save / reload_all: every kind of element,
// collections as states and as members, nested in each other, empty ones,
// and collections large enough to have branches; a struct state's
// collection members saved node by node, public ones and the private one of
// a [[instadump::persist_private]] class.
#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "test_dir.h"

import instadump;

namespace pc {

enum class tier : std::uint8_t { bronze, silver, gold };

struct player {
  std::string name;
  std::int32_t level = 0;
  instadump::pvector<std::string> items;        // a collection as a member
  instadump::pset<std::int64_t> friends;
  instadump::pmap<std::string, double> scores;  // nested three ways
  friend bool operator==(const player&, const player&) = default;
};

// Every kind of element in one of each collection.
struct elements {
  instadump::pvector<bool> bools;
  instadump::pvector<std::uint8_t> u8s;
  instadump::pvector<std::int16_t> i16s;
  instadump::pvector<float> floats;
  instadump::pvector<std::vector<std::byte>> blobs;
  instadump::pvector<tier> tiers;
  instadump::pvector<std::array<int, 2>> pairs_of_ints;
  instadump::pvector<std::optional<std::string>> maybe;
  instadump::pvector<std::variant<std::monostate, int, std::string>> variants;
  instadump::pvector<std::chrono::milliseconds> durations;
  instadump::pvector<std::chrono::system_clock::time_point> times;
  instadump::pvector<std::map<std::string, int>> std_maps;
  instadump::pvector<instadump::pvector<int>> nested;
  instadump::pset<std::string> names;
  instadump::pset<double> reals;
  instadump::pset<tier> tier_set;
  instadump::pset<std::tuple<int, std::string>> tuples;
  instadump::pset<std::chrono::seconds> second_set;
  instadump::pmap<std::int32_t, std::vector<std::string>> lists_by_id;
  instadump::pmap<tier, std::optional<double>> by_tier;
  instadump::pmap<std::pair<int, int>, std::set<int>> by_pair;
  instadump::pmap<std::string, instadump::pmap<std::string, instadump::pset<int>>> nested_maps;
  friend bool operator==(const elements&, const elements&) = default;
};

// A struct state whose collections are saved node by node as members
// (instadump-codegen writes chunked_members<world>): one directly, one a
// member of a member.
struct roster {
  std::string label;
  instadump::pvector<std::int64_t> events;
  friend bool operator==(const roster&, const roster&) = default;
};
struct world {
  std::int64_t tick = 0;
  instadump::pmap<std::int64_t, player> players;
  roster log;
  instadump::pset<std::string> tags;  // left empty: stored in the value itself
  friend bool operator==(const world&, const world&) = default;
};

// A class whose collection is private: saved node by node too.
class [[instadump::persist_private]] ledger {
 public:
  ledger() = default;
  explicit ledger(instadump::pmap<std::int64_t, player> players) : players_(std::move(players)) {}
  const instadump::pmap<std::int64_t, player>& players() const { return players_; }
  ledger with(std::int64_t id, const player& p) const {
    ledger next(players_.set(id, p));
    next.revision_ = revision_ + 1;
    return next;
  }
  friend bool operator==(const ledger&, const ledger&) = default;

 private:
  std::int64_t revision_ = 0;
  instadump::pmap<std::int64_t, player> players_;
};

[[instadump::state]] instadump::ref<instadump::pmap<std::int64_t, player>> players;
[[instadump::state]] instadump::ref<world> the_world;
[[instadump::state]] instadump::ref<ledger> the_ledger;
[[instadump::state]] instadump::ref<instadump::pvector<std::int64_t>> numbers;
[[instadump::state]] instadump::ref<instadump::pset<std::string>> words;
[[instadump::state]] instadump::ref<elements> all_elements;
// A few big inner collections: a small map of heavy entries.
[[instadump::state]] instadump::ref<instadump::pmap<std::string, instadump::pmap<std::int64_t, player>>> guilds;

}  // namespace pc

namespace {

template <class T>
void set(instadump::ref<T>& r, T v) {
  instadump::dosync([&] { r.set(std::move(v)); });
}

pc::player make_player(std::int64_t id) {
  pc::player p;
  p.name = "player " + std::to_string(id);
  p.level = static_cast<std::int32_t>(id % 100);
  for (std::int64_t i = 0; i < id % 7; ++i) {
    p.items = p.items.push_back("item " + std::to_string(i));
    p.friends = p.friends.insert(id * 3 + i);
    p.scores = p.scores.set("game " + std::to_string(i), static_cast<double>(id) / (i + 1));
  }
  return p;
}

pc::elements make_elements() {
  pc::elements e;
  e.bools = {true, false, true};
  e.u8s = {0, 255, 7};
  e.i16s = {-32768, 32767};
  e.floats = {1.5f, -0.0f};
  e.blobs = {std::vector<std::byte>{std::byte{0}, std::byte{0xff}}, {}};
  e.tiers = {pc::tier::gold, pc::tier::bronze};
  e.pairs_of_ints = {std::array<int, 2>{1, 2}};
  e.maybe = {std::nullopt, std::string("x")};
  e.variants = {std::monostate{}, 4, std::string("four")};
  e.durations = {std::chrono::milliseconds(5)};
  e.times = {std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000))};
  e.std_maps = {std::map<std::string, int>{{"a", 1}, {"b", 2}}};
  e.nested = {instadump::pvector<int>{1, 2, 3}, instadump::pvector<int>{}};
  e.names = {"zeta", "alpha", "\u00e9t\u00e9"};
  e.reals = {3.25, -1.0};
  e.tier_set = {pc::tier::silver, pc::tier::gold};
  e.tuples = {std::tuple<int, std::string>{2, "b"}, std::tuple<int, std::string>{1, "z"}};
  e.second_set = {std::chrono::seconds(9), std::chrono::seconds(-1)};
  e.lists_by_id = {{3, {"c"}}, {-1, {"a", "b"}}};
  e.by_tier = {{pc::tier::gold, 2.5}, {pc::tier::bronze, std::nullopt}};
  e.by_pair = {{{1, 2}, {3, 4}}, {{0, 9}, {}}};
  e.nested_maps = {{"outer", {{"inner", {1, 2}}, {"empty", {}}}}};
  return e;
}

}  // namespace

TEST_CASE("persistent collections round-trip with every kind of element, nested and as members", "[codegen]") {
  test_util::scratch_dir dir;
  instadump::shutdown();
  instadump::setup(dir.path());

  // Big enough for branches at two levels in each collection.
  auto players = instadump::pmap<std::int64_t, pc::player>().transient();
  for (std::int64_t id = 0; id < 5000; ++id) players.set(id * 2 - 3000, make_player(id));
  const auto original_players = std::move(players).persistent();
  auto numbers = instadump::pvector<std::int64_t>().transient();
  for (std::int64_t i = 0; i < 20000; ++i) numbers.push_back(i * i - 7);
  const auto original_numbers = std::move(numbers).persistent();
  auto words = instadump::pset<std::string>().transient();
  for (int i = 0; i < 3000; ++i) words.insert("w" + std::to_string(i * 37 % 3001));
  const auto original_words = std::move(words).persistent();
  const pc::elements original_elements = make_elements();

  set(pc::players, original_players);
  set(pc::numbers, original_numbers);
  set(pc::words, original_words);
  set(pc::all_elements, original_elements);
  instadump::save_all();

  set(pc::players, {});
  set(pc::numbers, {});
  set(pc::words, {});
  set(pc::all_elements, {});
  instadump::reload_all();

  CHECK(pc::players.deref() == original_players);
  CHECK(pc::numbers.deref() == original_numbers);
  CHECK(pc::words.deref() == original_words);
  CHECK(pc::all_elements.deref() == original_elements);
  // Loaded collections are well-formed trees, not just equal sequences.
  CHECK(instadump::detail::pmap_access<std::int64_t, pc::player>::check(pc::players.deref()).empty());
  CHECK(instadump::detail::pvector_access<std::int64_t>::check(pc::numbers.deref()).empty());
  CHECK(instadump::detail::pset_access<std::string>::check(pc::words.deref()).empty());
  const pc::player* p = pc::players.deref().find(2 * 4999 - 3000);
  REQUIRE(p != nullptr);
  CHECK(*p == make_player(4999));
  instadump::shutdown();
}

TEST_CASE("empty persistent collections round-trip, also in a new setup", "[codegen]") {
  test_util::scratch_dir dir;
  instadump::shutdown();
  instadump::setup(dir.path());
  set(pc::players, {});
  set(pc::numbers, {});
  set(pc::words, {});
  set(pc::all_elements, {});
  instadump::save_all();
  instadump::shutdown();
  set(pc::words, instadump::pset<std::string>{"left over"});
  set(pc::numbers, instadump::pvector<std::int64_t>{1});
  instadump::setup(dir.path());
  CHECK(pc::players.deref().empty());
  CHECK(pc::numbers.deref().empty());
  CHECK(pc::words.deref().empty());
  CHECK(pc::all_elements.deref() == pc::elements{});
  instadump::shutdown();
}

TEST_CASE("a pmap or pset loads entries stored out of key order, and refuses repeated keys", "[codegen]") {
  instadump::detail::pmap_loader<int, std::string> m;
  CHECK(m.add(5, "five"));
  CHECK(m.add(7, "seven"));
  CHECK(m.add(1, "one"));  // out of order: inserted from here on
  CHECK(m.add(6, "six"));
  CHECK_FALSE(m.add(5, "again"));
  const auto map = std::move(m).finish();
  CHECK(map == instadump::pmap<int, std::string>{{1, "one"}, {5, "five"}, {6, "six"}, {7, "seven"}});

  instadump::detail::pset_loader<int> s;
  CHECK(s.add(1));
  CHECK_FALSE(s.add(1));  // equal to the last: not in order, and repeated
  CHECK(s.add(0));
  CHECK(std::move(s).finish() == instadump::pset<int>{0, 1});
}

TEST_CASE("a struct state's collection members are saved node by node: a change writes a few chunks, "
          "also after a load",
          "[codegen]") {
  test_util::scratch_dir dir;
  instadump::shutdown();
  instadump::setup(dir.path());
  pc::world w;
  w.tick = 1;
  auto players = instadump::pmap<std::int64_t, pc::player>().transient();
  for (std::int64_t id = 0; id < 20000; ++id) players.set(id, make_player(id));
  w.players = std::move(players).persistent();
  auto events = instadump::pvector<std::int64_t>().transient();
  for (std::int64_t i = 0; i < 50000; ++i) events.push_back(i * 7);
  w.log.events = std::move(events).persistent();
  w.log.label = "events";
  set(pc::the_world, w);
  const instadump::save_result first = instadump::save_all();
  CHECK(first.chunks_written > 100);  // both members' trees, once

  // One player and the tick: the player's leaf group and the branches above it.
  w.players = w.players.set(77, make_player(5));
  w.tick = 2;
  set(pc::the_world, w);
  const instadump::save_result second = instadump::save_all();
  CHECK(second.chunks_written >= 1);
  CHECK(second.chunks_written <= 6);
  CHECK(second.bytes_written < 64 * 1024);
  CHECK(second.bytes_written * 20 < first.bytes_written);

  // A new session builds the members from their chunks...
  instadump::shutdown();
  set(pc::the_world, {});
  instadump::setup(dir.path());
  CHECK(pc::the_world.deref() == w);
  CHECK(instadump::detail::pmap_access<std::int64_t, pc::player>::check(pc::the_world.deref().players).empty());
  CHECK(instadump::detail::pvector_access<std::int64_t>::check(pc::the_world.deref().log.events).empty());

  // ...and its first save is incremental too: one element of the member's member.
  w = pc::the_world.deref();
  w.log.events = w.log.events.set(10, -1);
  set(pc::the_world, w);
  const instadump::save_result third = instadump::save_all();
  CHECK(third.chunks_written >= 1);
  CHECK(third.chunks_written <= 6);
  CHECK(third.bytes_written * 20 < first.bytes_written);

  // 500 players 37 apart (a delta: the entries set and a link, not the
  // ~500 leaf groups they touch) and an element of the vector (its nodes)
  // in one save; then a new session loads both.
  auto scattered = w.players.transient();
  for (std::int64_t id = 0; id < 500 * 37; id += 37) scattered.set(id, make_player(id + 1));
  w.players = std::move(scattered).persistent();
  w.log.events = w.log.events.set(20'000, -2);
  set(pc::the_world, w);
  const instadump::save_result fourth = instadump::save_all();
  CHECK(fourth.chunks_written <= 8);
  CHECK(fourth.bytes_written * 10 < first.bytes_written);
  instadump::shutdown();
  set(pc::the_world, {});
  instadump::setup(dir.path());
  CHECK(pc::the_world.deref() == w);
  w = pc::the_world.deref();

  // Emptied members go back into the value; reload_all reverts to a snapshot.
  const pc::world saved = w;
  w.players = {};
  set(pc::the_world, w);
  instadump::save_all();
  set(pc::the_world, saved);
  instadump::reload_all();
  CHECK(pc::the_world.deref() == w);
  instadump::shutdown();
  set(pc::the_world, {});
  instadump::setup(dir.path());
  CHECK(pc::the_world.deref() == w);
  instadump::shutdown();
}

TEST_CASE("a private collection member of a persist_private class is saved node by node", "[codegen]") {
  test_util::scratch_dir dir;
  instadump::shutdown();
  instadump::setup(dir.path());
  auto players = instadump::pmap<std::int64_t, pc::player>().transient();
  for (std::int64_t id = 0; id < 20000; ++id) players.set(id, make_player(id));
  pc::ledger l(std::move(players).persistent());
  set(pc::the_ledger, l);
  const instadump::save_result first = instadump::save_all();
  CHECK(first.chunks_written > 100);

  l = l.with(77, make_player(5));
  set(pc::the_ledger, l);
  const instadump::save_result second = instadump::save_all();
  CHECK(second.chunks_written >= 1);
  CHECK(second.chunks_written <= 6);
  CHECK(second.bytes_written * 20 < first.bytes_written);

  instadump::shutdown();
  set(pc::the_ledger, {});
  instadump::setup(dir.path());
  CHECK(pc::the_ledger.deref() == l);
  l = pc::the_ledger.deref().with(78, make_player(6));
  set(pc::the_ledger, l);
  const instadump::save_result third = instadump::save_all();  // incremental after a load, too
  CHECK(third.chunks_written >= 1);
  CHECK(third.chunks_written <= 6);
  instadump::shutdown();
  set(pc::the_ledger, {});
  instadump::setup(dir.path());
  CHECK(pc::the_ledger.deref() == l);
  instadump::shutdown();
}

TEST_CASE("a small map of big inner maps saves the inner map that changed, not its neighbours", "[codegen]") {
  using guild = instadump::pmap<std::int64_t, pc::player>;
  using guild_map = instadump::pmap<std::string, guild>;
  test_util::scratch_dir dir;
  instadump::shutdown();
  instadump::setup(dir.path());
  // 40 guilds of 500 players: one leaf group holds them all.
  auto all = guild_map().transient();
  for (int g = 0; g < 40; ++g) {
    auto members = guild().transient();
    for (std::int64_t id = 0; id < 500; ++id) members.set(g * 1000 + id, make_player(id));
    all.set("guild " + std::to_string(g), std::move(members).persistent());
  }
  guild_map m = std::move(all).persistent();
  set(pc::guilds, m);
  const instadump::save_result first = instadump::save_all();

  // One player of one guild: a delta holding that guild, not the group of 40.
  const auto change = [&](const std::string& name, std::int64_t id, std::int64_t seed) {
    m = m.update(name, [&](const guild& g) { return g.set(id, make_player(seed)); });
    set(pc::guilds, m);
  };
  change("guild 7", 7003, 11);
  const instadump::save_result second = instadump::save_all();
  CHECK(second.chunks_written <= 3);  // the entries set and a link
  CHECK(second.bytes_written * 20 < first.bytes_written);

  // A new session knows the stored tree's size from its chunks: its first
  // save is a delta too.
  instadump::shutdown();
  set(pc::guilds, {});
  instadump::setup(dir.path());
  CHECK(pc::guilds.deref() == m);
  change("guild 30", 30100, 12);
  const instadump::save_result third = instadump::save_all();
  CHECK(third.chunks_written <= 3);
  CHECK(third.bytes_written * 20 < first.bytes_written);

  // Past half the guilds changed, a save writes the tree again (a fold);
  // guilds come and go. Every snapshot loads back equal.
  for (int round = 0; round < 30; ++round) {
    const std::string name = "guild " + std::to_string(round * 7 % 45);
    if (round % 9 == 4) {
      m = m.erase(name);
      set(pc::guilds, m);
    } else {
      change(name, round, round);
    }
    instadump::save_all();
    if (round % 10 == 9) {
      instadump::shutdown();
      set(pc::guilds, {});
      instadump::setup(dir.path());
      CHECK(pc::guilds.deref() == m);
    }
  }
  instadump::shutdown();
  set(pc::guilds, {});
  instadump::setup(dir.path());
  CHECK(pc::guilds.deref() == m);
  instadump::shutdown();
}

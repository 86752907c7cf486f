// A struct state whose pmap member is stored node by node, with a
// hand-written codec and chunked_members<holder> written by hand
// (test_state.h; what instadump-codegen writes for generated ones): a change saves a few
// chunks, a new session loads it back and saves incrementally, and a value
// taken out of its store and damaged -- a member under a path the program
// does not know, a missing chunk, chunk roots that disagree, a member also
// held in the value -- is load_failed naming the ref, never a misread map;
// and a value stored whole with a std::map member (an earlier release)
// loads into the pmap member. Scattered changes to a member are saved as a
// delta, members of one state saving deltas and trees in the same save.
#include <catch2/catch.hpp>

#include "instadump/capnp_compat.h"
#include <capnp/message.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "fresh_session.h"
#include "reachable_chunks.h"
#include "storage/chunk_format.h"
#include "storage/chunked_members_codec.h"
#include "storage/snapshot_store.h"
#include "test_state.h"

import instadump;

namespace {

using test_state::holder;
using test_state::holder_codec;
using test_state::holder_schema;
using test_state::two_maps;

holder numbers(std::int64_t n) {
  std::vector<std::pair<std::int64_t, std::int64_t>> entries;
  for (std::int64_t i = 0; i < n; ++i) entries.emplace_back(i, i * 3);
  return holder{7, test_state::int64_map::from_sorted(entries.begin(), entries.end())};
}

// A stored value taken out of its store: its bytes and every chunk its
// members reach, as the store keeps them.
struct taken_value {
  std::vector<std::uint64_t> words;
  std::map<std::uint64_t, std::vector<std::byte>> chunks;
  std::vector<std::uint64_t> chunk_roots;

  std::span<const std::byte> bytes() const { return std::as_bytes(std::span(words)); }
  kj::ArrayPtr<const capnp::word> capnp_words() const {
    return {reinterpret_cast<const capnp::word*>(words.data()), words.size()};
  }
  // The members its ChunkedMembers lists.
  std::vector<instadump::storage::chunked_member> members() const {
    return instadump::storage::chunked_members_value(capnp_words(), "test").members();
  }
  void check(const std::string& key) const {
    instadump::check_chunked_value_decodes(key, bytes(), [&](std::uint64_t id) {
      auto it = chunks.find(id);
      return it == chunks.end() ? std::span<const std::byte>() : std::span<const std::byte>(it->second);
    });
  }
};

taken_value take(const std::filesystem::path& dir, const std::string& key) {
  instadump::storage::store_options o;
  o.read_only = true;
  const auto store = instadump::storage::snapshot_store::open(dir, o);
  taken_value out;
  store->read_snapshot(store->newest()->id, [&](const instadump::storage::entry_info& e,
                                                kj::ArrayPtr<const capnp::word> words,
                                                const instadump::storage::chunk_source& chunks) {
    if (e.key != key) return;
    out.words.resize(words.size());
    std::memcpy(out.words.data(), words.begin(), words.size() * sizeof(capnp::word));
    out.chunk_roots = e.chunk_roots;
    out.chunks = test_util::reachable_chunks(chunks, e.chunk_roots);
  });
  return out;
}

// `v` with its value rewritten: `edit` changes the members, `value` (if
// set) replaces the state's message.
template <class Edit>
taken_value rewritten(const taken_value& v, Edit edit, const holder* value = nullptr) {
  instadump::storage::chunked_members_value stored(v.capnp_words(), "test");
  std::vector<instadump::storage::chunked_member> members = stored.members();
  edit(members);
  capnp::MallocMessageBuilder message;
  if (value) {
    test_state::encode_holder(*value, message);
  } else {
    message.setRoot(stored.value().getRoot<::Holder>());
  }
  const kj::Array<capnp::word> out = instadump::storage::encode_chunked_members(message, members);
  taken_value r = v;
  r.words.assign(reinterpret_cast<const std::uint64_t*>(out.begin()),
                 reinterpret_cast<const std::uint64_t*>(out.end()));
  return r;
}

std::string load_failure(const taken_value& v, const std::string& key) {
  try {
    v.check(key);
  } catch (const instadump::load_failed& e) {
    CHECK(std::string(e.what()).find(key) != std::string::npos);
    return e.what();
  }
  FAIL("a damaged value decoded");
  return {};
}

}  // namespace

TEST_CASE("A struct state's pmap member is saved node by node: a change writes a few chunks, a new session loads it",
          "[persist][chunks]") {
  test_util::fresh_session f;
  instadump::ref<holder> state{};
  instadump::state_registration<holder> reg(state, "members::holder", holder_schema, holder_codec);
  instadump::setup(f.dir.db());
  holder model = numbers(100'000);
  instadump::dosync([&] { state.set(model); });
  const instadump::save_result first = instadump::save_all();
  CHECK(first.chunks_written > 100);

  model.numbers = model.numbers.set(50'000, -1);
  model.tick = 8;
  instadump::dosync([&] { state.set(model); });
  const instadump::save_result second = instadump::save_all();
  CHECK(second.chunks_written >= 1);
  CHECK(second.chunks_written <= 6);  // a leaf group and the branches above it
  CHECK(second.bytes_written < 16 * 1024);

  instadump::shutdown();
  instadump::dosync([&] { state.set(holder{}); });
  instadump::setup(f.dir.db());
  CHECK(state.deref() == model);
  model = state.deref();  // (the loaded nodes know their chunks; the old session's do not)
  model.numbers = model.numbers.erase(3);
  instadump::dosync([&] { state.set(model); });
  const instadump::save_result third = instadump::save_all();
  CHECK(third.chunks_written >= 1);
  CHECK(third.chunks_written <= 6);
  instadump::shutdown();

  // The value is ChunkedMembers, whose chunk roots are its member's tree and
  // (the last change) a delta on it.
  const taken_value stored = take(f.dir.db(), "members::holder");
  REQUIRE(stored.chunk_roots.size() == 2);
  CHECK(stored.chunks.size() > 100);
  CHECK_NOTHROW(stored.check("members::holder"));
}

TEST_CASE("A damaged struct value whose member is stored node by node is load_failed naming the ref",
          "[persist][chunks]") {
  const std::string key = "members::damaged";
  test_util::fresh_session f;
  instadump::ref<holder> state{};
  instadump::state_registration<holder> reg(state, key, holder_schema, holder_codec);
  instadump::setup(f.dir.db());
  const holder model = numbers(5'000);
  instadump::dosync([&] { state.set(model); });
  instadump::save_all();
  instadump::shutdown();
  const taken_value stored = take(f.dir.db(), key);
  REQUIRE_NOTHROW(stored.check(key));

  SECTION("a member under a path this program does not store node by node") {
    const taken_value v = rewritten(stored, [](auto& ms) { ms[0].path = "renamed"; });
    CHECK_THAT(load_failure(v, key), Catch::Contains("'renamed'") && Catch::Contains("does not store that member"));
  }
  SECTION("a member whose entries are also in the value") {
    const taken_value v = rewritten(stored, [](auto&) {}, &model);
    CHECK_THAT(load_failure(v, key), Catch::Contains("also holds 5000 entries"));
  }
  SECTION("a member listed twice") {
    const taken_value v = rewritten(stored, [](auto& ms) { ms.push_back(ms[0]); });
    CHECK_THAT(load_failure(v, key), Catch::Contains("twice"));
  }
  SECTION("a member whose size disagrees with its tree") {
    const taken_value v = rewritten(stored, [](auto& ms) { ms[0].size += 1; });
    CHECK_THAT(load_failure(v, key), Catch::Contains("'numbers'"));
  }
  SECTION("a missing chunk") {
    taken_value v = stored;
    v.chunks.erase(std::prev(v.chunks.end()));
    load_failure(v, key);
  }
  SECTION("bytes that are not ChunkedMembers") {
    taken_value v = stored;
    v.words.resize(2);
    load_failure(v, key);
  }
}

TEST_CASE("A struct value whose member is stored node by node does not load into a state that stores no member so",
          "[persist][chunks]") {
  const std::string key = "members::switched";
  test_util::fresh_session f;
  {
    instadump::ref<holder> state{};
    instadump::state_registration<holder> reg(state, key, holder_schema, holder_codec);
    instadump::setup(f.dir.db());
    instadump::dosync([&] { state.set(numbers(3'000)); });
    instadump::save_all();
    instadump::shutdown();
  }
  instadump::ref<test_state::int64_map> other{};
  instadump::state_registration<test_state::int64_map> reg(other, key, test_state::map_schema,
                                                           test_state::map_codec);
  CHECK_THROWS_MATCHES(instadump::setup(f.dir.db()), instadump::load_failed,
                       Catch::Matchers::Predicate<instadump::load_failed>([&](const instadump::load_failed& e) {
                         const std::string what = e.what();
                         return what.find(key) != std::string::npos && what.find("'numbers'") != std::string::npos;
                       }));
  CHECK(other.deref().empty());
}

TEST_CASE("A map held by a state and by a struct state's member is stored for each, and both load back",
          "[persist][chunks]") {
  test_util::fresh_session f;
  instadump::ref<holder> both{};
  instadump::ref<test_state::int64_map> alone{};
  instadump::state_registration<holder> reg(both, "members::both", holder_schema, holder_codec);
  instadump::state_registration<test_state::int64_map> reg_alone(alone, "members::alone", test_state::map_schema,
                                                                 test_state::map_codec);
  instadump::setup(f.dir.db());
  holder model = numbers(20'000);
  // Each save, the same nodes are in both: the last to write one tags it,
  // and the other must not refer to that chunk (its payload is the other
  // state's message).
  for (int round = 0; round < 3; ++round) {
    model.numbers = model.numbers.set(round * 1000, -round);
    instadump::dosync([&] {
      both.set(model);
      alone.set(model.numbers);
    });
    instadump::save_all();
  }
  instadump::shutdown();
  instadump::dosync([&] {
    both.set(holder{});
    alone.set({});
  });
  instadump::setup(f.dir.db());
  CHECK(both.deref() == model);
  CHECK(alone.deref() == model.numbers);
}

namespace {

// What an earlier release had: the same message, with a std::map member
// (so its values are stored whole).
struct plain_holder {
  std::int64_t tick = 0;
  std::map<std::int64_t, std::int64_t> numbers;
};
void encode_plain_holder(const plain_holder& h, capnp::MessageBuilder& message) {
  auto b = message.initRoot<::Holder>();
  b.setTick(h.tick);
  test_state::write_int64_map(h.numbers, b.initNumbers());
}
plain_holder decode_plain_holder(capnp::MessageReader& message, const instadump::schema_identity&) {
  auto r = message.getRoot<::Holder>();
  plain_holder out{r.getTick(), {}};
  test_state::read_int64_map(r.getNumbers(), [&](std::int64_t k, std::int64_t v) { out.numbers.emplace(k, v); });
  return out;
}

}  // namespace

TEST_CASE("A struct value stored whole by a release with a std::map member loads into a pmap member, "
          "which the next save stores node by node",
          "[persist][chunks]") {
  const std::string key = "members::upgraded";
  test_util::fresh_session f;
  plain_holder old_value{5, {}};
  for (std::int64_t i = 0; i < 5'000; ++i) old_value.numbers.emplace(i, -i);
  {
    instadump::ref<plain_holder> state{};
    instadump::state_registration<plain_holder> reg(state, key, holder_schema,
                                                    {&encode_plain_holder, &decode_plain_holder});
    instadump::setup(f.dir.db());
    instadump::dosync([&] { state.set(old_value); });
    const instadump::save_result r = instadump::save_all();
    CHECK(r.chunks_written == 0);
    instadump::shutdown();
  }
  instadump::ref<holder> state{};
  instadump::state_registration<holder> reg(state, key, holder_schema, holder_codec);
  instadump::setup(f.dir.db());
  CHECK(state.deref().tick == 5);
  CHECK(state.deref().numbers.size() == 5'000);
  CHECK(*state.deref().numbers.find(4'999) == -4'999);
  CHECK(instadump::save_all().chunks_written == 0);  // unchanged: the snapshot keeps the value stored whole
  instadump::dosync([&] { state.alter([](holder h) { return h.tick = 6, h; }); });
  const instadump::save_result first = instadump::save_all();  // changed: the member's tree, once
  CHECK(first.chunks_written > 10);
  instadump::shutdown();
  const holder model = state.deref();
  instadump::dosync([&] { state.set(holder{}); });
  instadump::setup(f.dir.db());
  CHECK(state.deref() == model);
  instadump::shutdown();
}

TEST_CASE("Scattered changes to a struct state's pmap member are saved as a delta, which a new session loads and "
          "saves on from",
          "[persist][chunks][deltas]") {
  const std::string key = "members::delta";
  test_util::fresh_session f;
  instadump::ref<holder> state{};
  instadump::state_registration<holder> reg(state, key, holder_schema, holder_codec);
  instadump::setup(f.dir.db());
  holder model = numbers(100'000);
  instadump::dosync([&] { state.set(model); });
  instadump::save_all();

  // 1,000 changes 97 keys apart touch about as many leaves; as a delta they
  // are two chunks (the entries set, the link) and about 16 bytes each.
  auto t = model.numbers.transient();
  for (std::int64_t k = 0; k < 97'000; k += 97) t.set(k, -k);
  model.numbers = std::move(t).persistent();
  instadump::dosync([&] { state.set(model); });
  const instadump::save_result scattered = instadump::save_all();
  CHECK(scattered.chunks_written <= 3);
  CHECK(scattered.bytes_written < 48 * 1024);

  instadump::shutdown();
  instadump::dosync([&] { state.set(holder{}); });
  instadump::setup(f.dir.db());
  REQUIRE(state.deref() == model);
  model = state.deref();
  model.numbers = model.numbers.erase(5).set(100'001, 1);  // a second delta, on the first
  instadump::dosync([&] { state.set(model); });
  const instadump::save_result next = instadump::save_all();
  CHECK(next.chunks_written <= 4);  // entries set, keys erased, link
  instadump::shutdown();

  const taken_value stored = take(f.dir.db(), key);
  const std::vector<instadump::storage::chunked_member> members = stored.members();
  REQUIRE(members.size() == 1);
  CHECK(members[0].delta != 0);
  CHECK(members[0].size == 100'000);
  CHECK(stored.chunk_roots.size() == 2);  // the tree's root and the newest delta
  CHECK_NOTHROW(stored.check(key));
  instadump::dosync([&] { state.set(holder{}); });
  instadump::setup(f.dir.db());
  CHECK(state.deref() == model);
  instadump::shutdown();
}

TEST_CASE("A save in which one member saves a delta and another its tree is loaded back, and saved on from",
          "[persist][chunks][deltas]") {
  const std::string key = "members::mixed";
  test_util::fresh_session f;
  instadump::ref<two_maps> state{};
  instadump::state_registration<two_maps> reg(state, key, test_state::two_maps_schema, test_state::two_maps_codec);
  instadump::setup(f.dir.db());
  two_maps model{numbers(20'000).numbers, {numbers(20'000).numbers}};
  instadump::dosync([&] { state.set(model); });
  instadump::save_all();

  // `first`: 200 scattered changes (a delta); `inner.second`: most of its
  // entries (more than a delta may hold: its changed nodes, a new tree).
  const auto change = [](test_state::int64_map m, std::int64_t step, std::int64_t to) {
    auto t = m.transient();
    for (std::int64_t k = 0; k < to; k += step) t.set(k, k + 1);
    return std::move(t).persistent();
  };
  model.first = change(model.first, 97, 19'400);
  model.inner.second = change(model.inner.second, 1, 15'000);
  instadump::dosync([&] { state.set(model); });
  instadump::save_all();
  // Then small changes to both: two deltas, on the trees the store holds.
  model.first = model.first.set(3, 3);
  model.inner.second = model.inner.second.set(4, 4);
  instadump::dosync([&] { state.set(model); });
  const instadump::save_result small = instadump::save_all();
  CHECK(small.chunks_written <= 4);
  instadump::shutdown();

  const taken_value stored = take(f.dir.db(), key);
  const std::vector<instadump::storage::chunked_member> members = stored.members();
  REQUIRE(members.size() == 2);
  for (const instadump::storage::chunked_member& m : members) CHECK(m.delta != 0);
  CHECK_NOTHROW(stored.check(key));
  instadump::dosync([&] { state.set(two_maps{}); });
  instadump::setup(f.dir.db());
  CHECK(state.deref() == model);
  instadump::shutdown();
}

TEST_CASE("Random changes to two members of a struct state, saved as deltas and trees, load back equal, in new "
          "sessions and older snapshots",
          "[persist][chunks][deltas]") {
  test_util::fresh_session f;
  instadump::ref<two_maps> state{};
  instadump::state_registration<two_maps> reg(state, "members::random", test_state::two_maps_schema,
                                              test_state::two_maps_codec);
  instadump::setup_options o;
  o.keep_generations = 3;
  instadump::setup(f.dir.db(), o);

  const std::uint64_t seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  auto below = [&](std::uint64_t n) { return static_cast<std::int64_t>(rng() % n); };
  // Mostly a few changes, sometimes some hundreds, now and then more than
  // half the map (too many for a delta), or none.
  const auto change = [&](test_state::int64_map m) {
    const int kind = static_cast<int>(below(20));
    const std::int64_t changes =
        kind == 0 ? 1'500 + below(500) : kind < 4 ? 20 + below(200) : kind < 8 ? 0 : 1 + below(5);
    auto t = m.transient();
    for (std::int64_t c = 0; c < changes; ++c) {
      const std::int64_t k = below(3'000);
      if (below(3) == 0) {
        t.erase(k);
      } else {
        t.set(k, static_cast<std::int64_t>(rng()));
      }
    }
    return std::move(t).persistent();
  };

  two_maps model{numbers(2'000).numbers, {numbers(2'500).numbers}};
  std::vector<std::pair<std::uint64_t, two_maps>> saved;  // snapshot id, value; newest last
  for (int round = 0; round < 120; ++round) {
    model.first = change(model.first);
    model.inner.second = change(model.inner.second);
    if (round == 60) model.first = {};  // empty: back in the value, then a new tree
    instadump::dosync([&] { state.set(model); });
    saved.emplace_back(instadump::save_all().snapshot_id, model);

    if (round % 10 == 9) {  // a new session loads it
      instadump::shutdown();
      instadump::dosync([&] { state.set(two_maps{}); });
      instadump::setup(f.dir.db(), o);
      REQUIRE(state.deref() == model);
    }
    if (round % 7 == 6) {  // back to a kept older snapshot, and on from there
      const auto& [id, value] = saved[saved.size() - 1 - static_cast<std::size_t>(below(3))];
      instadump::reload_all(id);
      REQUIRE(state.deref() == value);
      model = value;
    }
  }
  instadump::shutdown();
  instadump::dosync([&] { state.set(two_maps{}); });
  instadump::setup(f.dir.db(), o);
  CHECK(state.deref() == model);
  instadump::shutdown();
}

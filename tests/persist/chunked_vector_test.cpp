// A pvector state is saved node by node (chunked_vector_state.cppm) like a
// pmap state: a set(i, x) or push_back of a 1M-element vector writes a few
// small chunks, a load builds the trie and its tail from their chunks (and
// keeps their tags, so the next save is incremental), a std::vector snapshot
// loads into a pvector state, a damaged chunk fails the load naming the
// ref, and check_value_decodes builds such a value from the store's chunks.
#include <catch2/catch.hpp>

#include "instadump/capnp_compat.h"
#include <capnp/message.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "file_damage.h"
#include "fresh_session.h"
#include "storage/snapshot_store.h"
#include "test_state.h"

import instadump;

namespace {

using big_vector = instadump::pvector<std::int64_t>;
constexpr instadump::schema_identity list_schema{0x44440000cccc0002ull, 1};

template <class Vector>
void encode_list(const Vector& v, capnp::MessageBuilder& message) {
  auto values = message.initRoot<::Int64List>().initValues(static_cast<unsigned>(v.size()));
  unsigned i = 0;
  for (std::int64_t x : v) values.set(i++, x);
}
big_vector decode_vector(capnp::MessageReader& message, const instadump::schema_identity& stored) {
  if (stored.fingerprint != list_schema.fingerprint) throw std::runtime_error("not an Int64List");
  auto t = big_vector().transient();
  for (std::int64_t x : message.getRoot<::Int64List>().getValues()) t.push_back(x);
  return std::move(t).persistent();
}
constexpr instadump::state_codec<big_vector> vector_codec{&encode_list<big_vector>, &decode_vector};

big_vector numbers(std::int64_t n) {
  auto t = big_vector().transient();
  for (std::int64_t i = 0; i < n; ++i) t.push_back(i * 3);
  return std::move(t).persistent();
}

// Saves `v` as the state's value; returns what the save wrote.
instadump::save_result save(instadump::ref<big_vector>& state, const big_vector& v) {
  instadump::dosync([&] { state.set(v); });
  return instadump::save_all();
}

// Loads the store in a new session (a new epoch): the state is reset first.
void reopen(instadump::ref<big_vector>& state, const std::filesystem::path& dir) {
  instadump::shutdown();
  instadump::dosync([&] { state.set(big_vector{}); });
  instadump::setup(dir);
}

}  // namespace

TEST_CASE("A 1M-element pvector state: set and push_back save a few small chunks -- a new session loads it",
          "[persist][chunks]") {
  test_util::fresh_session f;
  instadump::ref<big_vector> state{};
  instadump::state_registration<big_vector> reg(state, "chunks::vector", list_schema, vector_codec);
  instadump::setup(f.dir.db());
  big_vector model = numbers(1'000'000 + 7);  // (a tail of 7 elements)
  const instadump::save_result first = save(state, model);
  CHECK(first.chunks_written > 1'000'000 / 32);  // every node, once

  // A trie of 1M elements is 4 levels high: a set writes its leaf and path.
  model = model.set(500'000, -1);
  const instadump::save_result one = save(state, model);
  INFO("set: bytes " << one.bytes_written << ", chunks " << one.chunks_written);
  CHECK(one.refs_written == 1);
  CHECK(one.chunks_written >= 2);
  CHECK(one.chunks_written <= 5);
  CHECK(one.bytes_written <= 64 * 1024);

  // A push_back writes the tail; once per 32 the full tail moves into the
  // trie, which writes its new path too. Each save stays small.
  std::size_t most = 0;
  std::uint64_t most_bytes = 0;
  for (std::int64_t i = 0; i < 40; ++i) {
    model = model.push_back(-i);
    const instadump::save_result s = save(state, model);
    most = std::max(most, s.chunks_written);
    most_bytes = std::max(most_bytes, s.bytes_written);
  }
  INFO("push_back: at most " << most << " chunks, " << most_bytes << " bytes");
  CHECK(most >= 1);
  CHECK(most <= 6);
  CHECK(most_bytes <= 64 * 1024);
  model = model.pop_back().pop_back();
  CHECK(save(state, model).chunks_written == 1);  // the tail

  reopen(state, f.dir.db());
  CHECK(state.deref() == model);
  // The loaded nodes carry their chunks' tags: the first save after a load
  // writes what changed only.
  model = state.deref().set(7, 7);
  const instadump::save_result after_load = save(state, model);
  CHECK(after_load.chunks_written <= 5);
  CHECK(after_load.bytes_written <= 64 * 1024);
  reopen(state, f.dir.db());
  CHECK(state.deref() == model);
}

TEST_CASE("Small pvector states round-trip node by node: all in the tail, a tail emptied into the trie",
          "[persist][chunks]") {
  test_util::fresh_session f;
  instadump::ref<big_vector> state{};
  instadump::state_registration<big_vector> reg(state, "chunks::small_vector", list_schema, vector_codec);
  instadump::setup(f.dir.db());
  for (std::int64_t n : {1, 31, 32, 33, 64, 65, 1025, 32 * 32 + 32}) {
    const big_vector v = numbers(n);
    INFO("size " << n);
    CHECK(save(state, v).chunks_written >= 1);
    reopen(state, f.dir.db());
    CHECK(state.deref() == v);
    // pop_back down across a leaf boundary (the trie's last leaf becomes the tail).
    big_vector shorter = state.deref();
    for (int i = 0; i < 2 && !shorter.empty(); ++i) shorter = shorter.pop_back();
    save(state, shorter);
    reopen(state, f.dir.db());
    CHECK(state.deref() == shorter);
  }
  CHECK(save(state, big_vector{}).chunks_written == 0);  // empty: a plain value
  reopen(state, f.dir.db());
  CHECK(state.deref().empty());
}

TEST_CASE("A std::vector snapshot loads into a pvector state, then saves node by node", "[persist][chunks]") {
  test_util::fresh_session f;
  std::vector<std::int64_t> elements;
  for (std::int64_t i = 0; i < 3'000; ++i) elements.push_back(i * 3);
  {  // release 1: a std::vector of the same schema, stored as one value (no chunk roots)
    constexpr auto decode = [](capnp::MessageReader&, const instadump::schema_identity&) -> std::vector<std::int64_t> {
      throw std::runtime_error("not loaded in this test");
    };
    instadump::ref<std::vector<std::int64_t>> plain{elements};
    instadump::state_registration<std::vector<std::int64_t>> reg(
        plain, "chunks::evolved_vector", list_schema,
        instadump::state_codec<std::vector<std::int64_t>>{&encode_list<std::vector<std::int64_t>>, +decode});
    instadump::setup(f.dir.db());
    CHECK(instadump::save_all().chunks_written == 0);
    instadump::shutdown();
  }
  // Release 2: the state is a pvector.
  instadump::ref<big_vector> state{};
  instadump::state_registration<big_vector> reg(state, "chunks::evolved_vector", list_schema, vector_codec);
  instadump::setup(f.dir.db());
  CHECK(state.deref() == numbers(3'000));
  const big_vector changed = state.deref().set(1, 1);
  CHECK(save(state, changed).chunks_written > 3'000 / 32);  // every node: none was stored as a chunk
  CHECK(save(state, changed.set(2'000, 2)).chunks_written <= 4);
  reopen(state, f.dir.db());
  CHECK(state.deref() == changed.set(2'000, 2));
}

TEST_CASE("A damaged pvector chunk fails the load with corrupt_data naming the ref", "[persist][chunks]") {
  test_util::fresh_session f;
  instadump::ref<big_vector> state{};
  instadump::state_registration<big_vector> reg(state, "chunks::damaged_vector", list_schema, vector_codec);
  instadump::setup(f.dir.db());
  // Elements of one recognizable byte pattern: 0x5a5a5a5a5a5a5a5a.
  auto t = big_vector().transient();
  for (int i = 0; i < 2'000; ++i) t.push_back(0x5a5a5a5a5a5a5a5all);
  save(state, std::move(t).persistent());
  instadump::shutdown();
  const std::string what = test_util::load_error_after_damage(f.dir.db());
  INFO(what);
  CHECK(what.find("chunks::damaged_vector") != std::string::npos);
  CHECK(what.find("chunk") != std::string::npos);
}

TEST_CASE("check_value_decodes builds a value stored node by node from the store's chunks", "[persist][chunks]") {
  test_util::fresh_session f;
  instadump::ref<big_vector> state{};
  instadump::state_registration<big_vector> reg(state, "chunks::checked_vector", list_schema, vector_codec);
  instadump::setup(f.dir.db());
  save(state, numbers(5'000));
  instadump::shutdown();
  // The stored bytes, as a tool reads them.
  std::vector<std::byte> bytes;
  bool framed = true;
  std::vector<std::uint64_t> roots;
  {
    instadump::storage::store_options o;
    o.read_only = true;
    const auto store = instadump::storage::snapshot_store::open(f.dir.db(), o);
    store->read_snapshot(store->snapshot_ids().at(0),
                         [&](const instadump::storage::entry_info& e, kj::ArrayPtr<const capnp::word> words) {
                           const auto b = words.asBytes();
                           bytes.assign(reinterpret_cast<const std::byte*>(b.begin()),
                                        reinterpret_cast<const std::byte*>(b.end()));
                           framed = e.framed;
                           roots = e.chunk_roots;
                         });
  }
  REQUIRE(roots.size() == 2);  // the trie's root and the tail
  // Without a store, the chunks are nowhere to be found.
  CHECK_THROWS_WITH(instadump::check_value_decodes("chunks::checked_vector", bytes, list_schema, framed),
                    Catch::Contains("chunks::checked_vector") && Catch::Contains("setup()"));
  instadump::setup(f.dir.db());
  CHECK_NOTHROW(instadump::check_value_decodes("chunks::checked_vector", bytes, list_schema, framed));
  CHECK(state.deref() == numbers(5'000));  // untouched
  // A descriptor whose root is no stored chunk does not decode, naming it.
  std::uint64_t missing = 1'000'000'000;
  std::memcpy(bytes.data() + 8, &missing, sizeof missing);
  CHECK_THROWS_MATCHES(instadump::check_value_decodes("chunks::checked_vector", bytes, list_schema, framed),
                       instadump::load_failed,
                       Catch::Matchers::Predicate<instadump::load_failed>([](const instadump::load_failed& e) {
                         const std::string what = e.what();
                         return what.find("chunks::checked_vector") != std::string::npos &&
                                what.find("chunk 1000000000") != std::string::npos;
                       }));
}

TEST_CASE("A pvector state's chunked value does not load into a pmap state (corrupt_data naming the mismatch)",
          "[persist][chunks]") {
  test_util::fresh_session f;
  {
    instadump::ref<big_vector> state{};
    instadump::state_registration<big_vector> reg(state, "chunks::kind", list_schema, vector_codec);
    instadump::setup(f.dir.db());
    save(state, numbers(100));
    instadump::shutdown();
  }
  instadump::ref<test_state::int64_map> map{};
  instadump::state_registration<test_state::int64_map> reg(map, "chunks::kind", test_state::map_schema,
                                                           test_state::map_codec);
  CHECK_THROWS_MATCHES(instadump::setup(f.dir.db()), instadump::corrupt_data,
                       Catch::Matchers::Predicate<instadump::corrupt_data>([](const instadump::corrupt_data& e) {
                         const std::string what = e.what();
                         return what.find("chunks::kind") != std::string::npos &&
                                what.find("tail chunk") != std::string::npos;
                       }));
}

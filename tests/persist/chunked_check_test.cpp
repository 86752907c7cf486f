// check_chunked_value_decodes: a pmap state's stored chunk tree, taken out of
// its store, decodes; the same tree reordered, cut short or described
// wrongly is load_failed naming the ref (never a misread map); a state that
// is not stored node by node is refused; a tree stored a chunk per leaf,
// as builds before leaf groups stored it, loads and is saved on
// incrementally. (tools/fuzz/chunked_decode fuzzes the same entry point
// with arbitrary trees.)
#include <catch2/catch.hpp>

#include "instadump/capnp_compat.h"
#include <capnp/common.h>
#include <capnp/message.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "fresh_session.h"
#include "reachable_chunks.h"
#include "storage/chunk_format.h"
#include "storage/snapshot_store.h"
#include "storage/value_message.h"
#include "test_state.h"

import instadump;

namespace {

using big_map = test_state::int64_map;
using payloads = instadump::detail::chunk_payloads;

// A stored collection value taken out of its store: the descriptor's bytes
// and every chunk it reaches, as the store keeps them (re-sealed from the
// parsed view, which gives back the same bytes).
struct taken_value {
  std::vector<std::uint64_t> descriptor;  // the value's words
  std::map<std::uint64_t, std::vector<std::byte>> chunks;
  std::uint64_t root = 0;
  std::uint64_t delta = 0;  // the newest delta's link (0: none)

  std::span<const std::byte> descriptor_bytes() const { return std::as_bytes(std::span(descriptor)); }
  std::span<const std::byte> chunk(std::uint64_t id) const {
    auto it = chunks.find(id);
    return it == chunks.end() ? std::span<const std::byte>() : std::span<const std::byte>(it->second);
  }
  void check(const std::string& key) const {
    instadump::check_chunked_value_decodes(key, descriptor_bytes(), [&](std::uint64_t id) { return chunk(id); });
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
    out.descriptor.resize(words.size());
    std::memcpy(out.descriptor.data(), words.begin(), words.size() * sizeof(capnp::word));
    const payloads::descriptor d = payloads::read_descriptor(words, key);
    out.root = d.root;
    out.delta = d.delta;
    out.chunks = test_util::reachable_chunks(chunks, payloads::roots_of(d));
  });
  return out;
}

// Chunk `id` of `v` sealed again with `children` instead of its own.
void relink(taken_value& v, std::uint64_t id, std::vector<std::uint64_t> children) {
  const auto& bytes = v.chunks.at(id);
  const instadump::storage::chunk_view c = instadump::storage::parse_chunk(bytes, id, "test");
  v.chunks[id] = instadump::storage::encode_chunk(id, c.schema, c.node_type, children, c.payload);
}

std::vector<std::uint64_t> children_of(const taken_value& v, std::uint64_t id) {
  const instadump::storage::chunk_view c = instadump::storage::parse_chunk(v.chunks.at(id), id, "test");
  return {c.children.begin(), c.children.end()};
}

// Chunk `id` of `v` sealed again as node type `type`.
void retype(taken_value& v, std::uint64_t id, std::uint64_t type) {
  const instadump::storage::chunk_view c = instadump::storage::parse_chunk(v.chunks.at(id), id, "test");
  v.chunks[id] = instadump::storage::encode_chunk(id, c.schema, type, c.children, c.payload);
}

// load_failed naming `key` when `v` is checked.
void check_fails(const taken_value& v, const std::string& key, const std::string& why) {
  try {
    v.check(key);
    FAIL("decoded: " << why);
  } catch (const instadump::load_failed& e) {
    INFO(why << ": " << e.what());
    CHECK(std::string(e.what()).find(key) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("check_chunked_value_decodes: a stored tree decodes, a damaged one is load_failed naming the ref",
          "[persist][chunks]") {
  const std::string key = "chunks::checked";
  test_util::fresh_session f;
  instadump::ref<big_map> state{};
  instadump::state_registration<big_map> reg(state, key, test_state::map_schema, test_state::map_codec);
  instadump::setup(f.dir.db());
  std::vector<std::pair<std::int64_t, std::int64_t>> entries;
  for (std::int64_t i = 0; i < 1000; ++i) entries.emplace_back(i, i * 3);
  instadump::dosync([&] { state.set(big_map::from_sorted(entries.begin(), entries.end())); });
  instadump::save_all();
  instadump::shutdown();

  const taken_value stored = take(f.dir.db(), key);
  REQUIRE(stored.chunks.size() > 3);  // a branch over several leaf groups
  CHECK_NOTHROW(stored.check(key));

  auto fails = [&](const taken_value& v, const std::string& why) { check_fails(v, key, why); };
  SECTION("two subtrees swapped: sizes no longer match") {
    taken_value v = stored;
    std::vector<std::uint64_t> children = children_of(v, v.root);
    REQUIRE(children.size() >= 2);
    std::swap(children.front(), children.back());
    relink(v, v.root, children);
    fails(v, "swapped subtrees");
  }
  SECTION("two subtrees swapped with their sizes: keys out of order across leaves") {
    taken_value v = stored;
    const instadump::storage::chunk_view root = instadump::storage::parse_chunk(v.chunks.at(v.root), v.root, "test");
    std::vector<std::uint64_t> children(root.children.begin(), root.children.end());
    std::vector<std::uint64_t> sizes = payloads::read_branch(root.payload, children.size(), v.root);
    REQUIRE(children.size() >= 2);
    std::swap(children[0], children[1]);
    std::swap(sizes[0], sizes[1]);
    const std::vector<capnp::word> payload = payloads::branch(sizes);
    v.chunks[v.root] = instadump::storage::encode_chunk(v.root, root.schema, root.node_type, children,
                                                        kj::ArrayPtr<const capnp::word>(payload.data(), payload.size()));
    fails(v, "subtrees out of order");
  }
  SECTION("a subtree referred to twice") {
    taken_value v = stored;
    std::vector<std::uint64_t> children = children_of(v, v.root);
    children[1] = children[0];
    relink(v, v.root, children);
    fails(v, "a subtree twice");
  }
  SECTION("a missing chunk") {
    taken_value v = stored;
    v.chunks.erase(children_of(v, v.root).back());
    fails(v, "missing chunk");
  }
  SECTION("a descriptor whose size disagrees with the tree's") {
    taken_value v = stored;
    v.descriptor.at(2) += 1;  // the root pointer, root, size, tail
    fails(v, "wrong size");
  }
  SECTION("a leaf group read as a leaf") {
    taken_value v = stored;
    retype(v, children_of(v, v.root).front(), payloads::leaf_type);
    fails(v, "a group as a leaf");
  }
  SECTION("a leaf group of too few entries for a lowest branch") {
    taken_value v = stored;
    const std::uint64_t first = children_of(v, v.root).front();
    const instadump::storage::chunk_view c = instadump::storage::parse_chunk(v.chunks.at(first), first, "test");
    capnp::MallocMessageBuilder message;
    test_state::encode_map(big_map::from_sorted(entries.begin(), entries.begin() + 10), message);
    const kj::ArrayPtr<const capnp::word> payload = message.getSegmentsForOutput()[0];
    v.chunks[first] = instadump::storage::encode_chunk(first, c.schema, payloads::group_type, {}, payload);
    fails(v, "a group of 10 entries");
  }
  SECTION("a branch's chunk in a leaf's place") {
    taken_value v = stored;
    std::vector<std::uint64_t> children = children_of(v, v.root);
    children[0] = v.root;  // a cycle
    relink(v, v.root, children);
    fails(v, "a cycle");
  }
}

TEST_CASE("check_chunked_value_decodes: a tree with deltas decodes, and damaged deltas are load_failed naming the ref",
          "[persist][chunks]") {
  const std::string key = "chunks::deltas";
  test_util::fresh_session f;
  instadump::ref<big_map> state{};
  instadump::state_registration<big_map> reg(state, key, test_state::map_schema, test_state::map_codec);
  instadump::setup(f.dir.db());
  std::vector<std::pair<std::int64_t, std::int64_t>> entries;
  for (std::int64_t i = 0; i < 3'000; ++i) entries.emplace_back(i, i * 3);
  instadump::dosync([&] { state.set(big_map::from_sorted(entries.begin(), entries.end())); });
  instadump::save_all();
  instadump::dosync([&] { state.set(state.deref().set(5, -5).erase(6)); });
  instadump::save_all();  // a delta: one entry set, one erased
  instadump::dosync([&] { state.set(state.deref().set(7, -7)); });
  instadump::save_all();  // a second delta, linked to the first
  instadump::shutdown();

  const taken_value stored = take(f.dir.db(), key);
  REQUIRE(stored.delta != 0);
  REQUIRE(stored.descriptor.size() == 5);
  CHECK_NOTHROW(stored.check(key));
  const std::vector<std::uint64_t> newest = children_of(stored, stored.delta);  // the previous link, the set
  REQUIRE(newest.size() == 2);
  const std::vector<std::uint64_t> oldest = children_of(stored, newest[0]);  // the set, the erased keys
  REQUIRE(oldest.size() == 2);

  SECTION("the entries set relabeled as keys erased") {
    taken_value v = stored;
    retype(v, newest[1], instadump::detail::delta_chunks::erased_type);
    check_fails(v, key, "a set chunk of the wrong type");
  }
  SECTION("a link without its previous link: the size disagrees") {
    taken_value v = stored;
    v.chunks[stored.delta] = instadump::storage::encode_chunk(
        stored.delta, instadump::storage::parse_chunk(v.chunks.at(stored.delta), stored.delta, "t").schema,
        instadump::detail::delta_chunks::link_type, std::vector<std::uint64_t>{newest[1]},
        [] {
          static const std::vector<capnp::word> p =
              instadump::detail::uint64_list_payload::write(std::vector<std::uint64_t>{1});
          return kj::ArrayPtr<const capnp::word>(p.data(), p.size());
        }());
    check_fails(v, key, "a delta dropped");
  }
  SECTION("a link whose parts do not match its children") {
    taken_value v = stored;
    relink(v, stored.delta, {newest[1]});
    check_fails(v, key, "parts and children disagree");
  }
  SECTION("the descriptor's delta naming a leaf") {
    taken_value v = stored;
    const std::uint64_t leaf = oldest[1];  // (the erased keys: no link)
    v.descriptor.at(4) = leaf;
    check_fails(v, key, "a delta that is not a link");
  }
  SECTION("a missing delta chunk") {
    taken_value v = stored;
    v.chunks.erase(oldest[0]);
    check_fails(v, key, "missing delta chunk");
  }
  SECTION("a descriptor with room for deltas naming none") {
    taken_value v = stored;
    v.descriptor.at(4) = 0;
    check_fails(v, key, "an empty delta slot");
  }
}

TEST_CASE("check_chunked_value_decodes refuses a state not stored node by node, and an unknown key",
          "[persist][chunks]") {
  test_util::fresh_session f;
  instadump::ref<long> plain{0};
  instadump::state_registration<long> reg(plain, "chunks::plain", test_state::int64_schema,
                                           test_state::long_codec);
  const std::vector<std::uint64_t> descriptor(payloads::descriptor_words);
  auto none = [](std::uint64_t) { return std::span<const std::byte>(); };
  CHECK_THROWS_WITH(instadump::check_chunked_value_decodes("chunks::plain", std::as_bytes(std::span(descriptor)), none),
                    Catch::Contains("chunks::plain") && Catch::Contains("not a pmap, pset or pvector"));
  CHECK_THROWS_WITH(instadump::check_chunked_value_decodes("chunks::nobody", std::as_bytes(std::span(descriptor)), none),
                    Catch::Contains("no state is registered under the key 'chunks::nobody'"));
}

namespace {

// Chunk `id` of `v` and the tree under it, as builds of formats 4 and 5
// stored it: each leaf group a branch chunk over a chunk per leaf (16
// entries, the last two evened out), with new ids from `next` on, children
// first. Adds the new chunks to `out`; returns the new id of `id`.
std::uint64_t per_leaf(const taken_value& v, std::uint64_t id, std::uint64_t& next,
                       std::vector<std::pair<std::uint64_t, std::vector<std::byte>>>& out) {
  const instadump::storage::chunk_view c = instadump::storage::parse_chunk(v.chunks.at(id), id, "test");
  std::vector<std::uint64_t> children;
  std::vector<std::uint64_t> sizes;
  if (c.node_type == payloads::group_type) {
    instadump::storage::value_message message(c.payload, false,
                                              instadump::storage::reader_options_for(c.payload.size()));
    const big_map group = test_state::decode_map(message.reader(), c.schema);
    const std::vector<std::pair<std::int64_t, std::int64_t>> entries(group.begin(), group.end());
    const std::size_t n = entries.size();
    const std::size_t leaves = (n + 15) / 16;
    for (std::size_t i = 0; i < leaves; ++i) {
      const big_map leaf = big_map::from_sorted(entries.begin() + i * n / leaves, entries.begin() + (i + 1) * n / leaves);
      capnp::MallocMessageBuilder message;
      test_state::encode_map(leaf, message);
      children.push_back(next++);
      sizes.push_back(leaf.size());
      out.emplace_back(children.back(), instadump::storage::encode_chunk(children.back(), c.schema,
                                                                         payloads::leaf_type, {},
                                                                         message.getSegmentsForOutput()[0]));
    }
  } else {
    REQUIRE(c.node_type == payloads::branch_type);
    const std::vector<std::uint64_t> old(c.children.begin(), c.children.end());
    sizes = payloads::read_branch(c.payload, old.size(), id);
    for (std::uint64_t child : old) children.push_back(per_leaf(v, child, next, out));
  }
  const std::vector<capnp::word> payload = payloads::branch(sizes);
  const std::uint64_t mine = next++;
  out.emplace_back(mine, instadump::storage::encode_chunk(mine, c.schema, payloads::branch_type, children,
                                                         kj::ArrayPtr<const capnp::word>(payload.data(), payload.size())));
  return mine;
}

}  // namespace

TEST_CASE("a map stored a chunk per leaf (formats 4 and 5) loads, and saves refer to its unchanged branches",
          "[persist][chunks]") {
  const std::string key = "chunks::per_leaf";
  test_util::fresh_session f;
  instadump::ref<big_map> state{};
  instadump::state_registration<big_map> reg(state, key, test_state::map_schema, test_state::map_codec);
  instadump::setup(f.dir.db());
  std::vector<std::pair<std::int64_t, std::int64_t>> entries;
  for (std::int64_t i = 0; i < 1000; ++i) entries.emplace_back(i, i * 3);  // (too few for deltas)
  const big_map model = big_map::from_sorted(entries.begin(), entries.end());
  instadump::dosync([&] { state.set(model); });
  instadump::save_all();
  instadump::shutdown();

  // The same tree written again as an older build wrote it, as a newer snapshot.
  const taken_value grouped = take(f.dir.db(), key);
  {
    auto store = instadump::storage::snapshot_store::open(f.dir.db(), {});
    std::uint64_t next = store->next_chunk_id();
    std::vector<std::pair<std::uint64_t, std::vector<std::byte>>> chunks;
    const std::uint64_t root = per_leaf(grouped, grouped.root, next, chunks);
    REQUIRE(chunks.size() > 1000 / 16);
    std::vector<std::uint64_t> descriptor = grouped.descriptor;
    descriptor.at(1) = root;
    instadump::storage::snapshot_delta d;
    for (const auto& [id, bytes] : chunks) d.chunks.push_back({id, bytes});
    instadump::storage::new_value value;
    value.key = key;
    value.schema = instadump::storage::parse_chunk(chunks.back().second, root, "test").schema;
    value.size_bytes = descriptor.size() * sizeof(std::uint64_t);
    value.bytes = std::as_bytes(std::span(descriptor));
    value.chunk_roots = {root};
    d.put.push_back(value);
    store->write_snapshot(store->newest()->id, d, true);
  }
  instadump::dosync([&] { state.set(big_map{}); });
  instadump::setup(f.dir.db());
  REQUIRE(state.deref() == model);
  CHECK(instadump::detail::pmap_access<std::int64_t, std::int64_t>::check(state.deref()).empty());

  // One change: its leaf group and the root are written; the other stored
  // branches (each over a chunk per leaf) are referred to.
  const big_map changed = state.deref().set(500, -1);
  instadump::dosync([&] { state.set(changed); });
  CHECK(instadump::save_all().chunks_written == 2);
  instadump::shutdown();
  instadump::dosync([&] { state.set(big_map{}); });
  instadump::setup(f.dir.db());
  CHECK(state.deref() == changed);
}

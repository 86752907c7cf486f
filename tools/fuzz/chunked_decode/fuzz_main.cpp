// libFuzzer target: arbitrary chunk trees as the stored value of a pmap, a
// pset and a pvector state, and as a member of a struct state (states.cpp), decoded as setup() and reload_all()
// would decode them -- chunk verification, the tree's shape and size checks,
// and the generated codecs of the leaves -- through
// instadump::check_chunked_value_decodes. Decoding may only fail with
// instadump::load_failed; any other exception escapes and libFuzzer reports
// it, as it does crashes, leaks and sanitizer findings.
//
// The harness seals every chunk with a valid checksum, so the fuzzer spends
// its time past the checksum, where a damaged store can never take it but a
// bug of a writer could. Input:
//
//   byte 0        which state: 0 fz::names, 1 fz::tags, 2 fz::items, 3
//                 fz::world_state (mod 4); for the last, byte 0 / 4 (mod 3)
//                 picks the one member the value lists: 0 value.names,
//                 1 value.items, 2 a path the program does not know
//   bytes 1..5    the descriptor (of that member): root chunk, tail chunk,
//                 newest delta link (a byte each; 0 = none), the number of
//                 entries (16 bits, little-endian)
//   then chunks 1, 2, ... until the input ends, each:
//     1 byte      kind (bits 0-2: 0 leaf, 1 branch, 2 a descriptor's type,
//                 3 a delta's link, 4 its entries set, 5 its keys erased,
//                 6 a leaf group, 7 an unknown type) and schema version
//                 (bits 3-4)
//     1 byte      n, the number of children; then n bytes, their ids
//     2 bytes     w, the payload's words (little-endian); then 8w bytes of
//                 payload (zeros past the end of the input)
//
// LLVMFuzzerInitialize writes seeds into the corpus directory given on the
// command line: real trees of the three states, saved by the library into a
// temporary store and read back out of it.
#include "instadump/capnp_compat.h"  // before any Cap'n Proto header
#include <capnp/any.h>
#include <capnp/common.h>
#include <capnp/message.h>
#include <kj/common.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include "../corpus_directory.h"
#include "storage/chunk_format.h"
#include "storage/chunked_members_codec.h"
#include "storage/snapshot_store.h"
#include "states.h"

namespace {

using payloads = instadump::detail::chunk_payloads;

constexpr std::string_view keys[] = {"fz::names", "fz::tags", "fz::items", "fz::world_state"};
constexpr std::size_t world_key = 3;
constexpr std::string_view member_paths[] = {"value.names", "value.items", "value.unknown"};
using deltas = instadump::detail::delta_chunks;
constexpr std::uint64_t node_types[] = {payloads::leaf_type, payloads::branch_type, payloads::collection_type,
                                        deltas::link_type,   deltas::set_type,      deltas::erased_type,
                                        payloads::group_type, 0x0ddba11c0ffee000ull};
constexpr unsigned known_types = 7;  // the last is unknown

// One chunk as the input describes it.
struct input_chunk {
  unsigned kind = 0;  // index into node_types
  unsigned schema_version = 0;
  std::vector<std::uint8_t> children;
  std::vector<std::byte> payload;  // whole words
};

// --- Seeds -----------------------------------------------------------------

void put16(std::vector<std::uint8_t>& out, std::size_t v) {
  out.push_back(static_cast<std::uint8_t>(v & 0xff));
  out.push_back(static_cast<std::uint8_t>((v >> 8) & 0xff));
}

// The input that describes `value`'s stored tree (chunks renumbered from 1 in
// the order they are first reached), or nothing when it does not fit the
// input's byte-sized fields.
std::vector<std::uint8_t> seed_of(std::uint8_t state, const payloads::descriptor& d,
                                  const instadump::storage::chunk_source& chunks) {
  std::map<std::uint64_t, std::uint8_t> number;
  std::vector<std::uint64_t> order;
  auto reach = [&](std::uint64_t id) -> std::uint8_t {
    if (id == 0) return 0;
    auto [it, fresh] = number.emplace(id, static_cast<std::uint8_t>(order.size() + 1));
    if (fresh) order.push_back(id);
    return it->second;
  };
  std::vector<std::uint8_t> out{state, reach(d.root), reach(d.tail), reach(d.delta)};
  put16(out, d.size);
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (order.size() > 255) return {};
    const instadump::storage::chunk_view c = chunks.get(order[i]);
    unsigned kind = known_types;
    for (unsigned k = 0; k < known_types; ++k) kind = c.node_type == node_types[k] ? k : kind;
    out.push_back(static_cast<std::uint8_t>(kind | (c.schema.version & 3) << 3));
    out.push_back(static_cast<std::uint8_t>(c.children.size()));
    for (std::uint64_t child : c.children) out.push_back(reach(child));
    put16(out, c.payload.size());
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(c.payload.begin());
    out.insert(out.end(), bytes, bytes + c.payload.size() * sizeof(capnp::word));
  }
  return out;
}

// Saves the three states (trees of several nodes each, and a pvector held in
// its tail alone; then a map and a set big enough for deltas, saved again
// with a few entries set and erased) into a temporary store, and writes each
// stored value as a seed.
void write_seeds(const std::filesystem::path& corpus) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("instadump-fuzz-chunked-seeds-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  for (int round = 0; round < 3; ++round) {
    const std::size_t n = round == 0 ? 100 : round == 1 ? 5 : instadump::detail::delta_chunks::min_size + 10;
    instadump::setup(dir);
    instadump::dosync([&] {
      auto names = instadump::pmap<std::int64_t, std::string>().transient();
      auto tags = instadump::pset<std::string>().transient();
      auto items = instadump::pvector<fz::item>().transient();
      for (std::size_t i = 0; i < n; ++i) {
        names.set(static_cast<std::int64_t>(i * 7), "name-" + std::to_string(i));
        tags.insert("tag-" + std::to_string(round == 2 ? i : i % 40));
        items.push_back(fz::item{"item-" + std::to_string(i), static_cast<std::int64_t>(i), i * 0.25});
      }
      fz::names.set(std::move(names).persistent());
      fz::tags.set(std::move(tags).persistent());
      fz::items.set(std::move(items).persistent());
      fz::world_state.set(fz::world{static_cast<std::int64_t>(n), fz::names.deref(), fz::items.deref()});
    });
    instadump::save_all();
    if (round == 2) {  // deltas: entries set and erased
      instadump::dosync([&] {
        fz::names.alter([](const auto& m) { return m.set(7, "renamed").set(3, "added").erase(14); });
        fz::tags.alter([](const auto& s) { return s.insert("new-tag").erase("tag-3"); });
        fz::world_state.alter([](const fz::world& w) {  // (a member's delta)
          fz::world next = w;
          next.names = fz::names.deref();
          return next;
        });
      });
      instadump::save_all();
    }
    instadump::shutdown();

    const auto store = instadump::storage::snapshot_store::open(dir, {.read_only = true});
    store->read_snapshot(store->newest()->id, [&](const instadump::storage::entry_info& e,
                                                  kj::ArrayPtr<const capnp::word> words,
                                                  const instadump::storage::chunk_source& chunks) {
      const auto write = [&](const std::vector<std::uint8_t>& seed, std::string_view name) {
        if (seed.empty()) return;
        std::ofstream(corpus / ("seed-" + std::string(name) + "-" + std::to_string(n)), std::ios::binary)
            .write(reinterpret_cast<const char*>(seed.data()), static_cast<std::streamsize>(seed.size()));
      };
      if (e.key == keys[world_key] && !e.chunk_roots.empty()) {
        const instadump::storage::chunked_members_value value(words, e.key);
        for (const instadump::storage::chunked_member& m : value.members()) {
          for (std::uint8_t p = 0; p < 2; ++p) {
            if (m.path != member_paths[p]) continue;
            write(seed_of(static_cast<std::uint8_t>(world_key + 4 * p), {m.root, m.size, m.tail, m.delta}, chunks),
                  "world-" + std::string(m.path.substr(6)));
          }
        }
        return;
      }
      for (std::uint8_t s = 0; s < std::size(keys); ++s) {
        if (e.key != keys[s] || e.chunk_roots.empty()) continue;
        write(seed_of(s, payloads::read_descriptor(words, e.key), chunks), keys[s].substr(4));
      }
    });
    std::filesystem::remove_all(dir);
  }
}

// --- Decoding an input -----------------------------------------------------

// Reads the chunks of an input (see the file comment) from `at` on.
std::vector<input_chunk> read_chunks(const std::uint8_t* at, const std::uint8_t* end) {
  std::vector<input_chunk> out;
  while (at < end && out.size() < 4096) {
    input_chunk c;
    c.kind = *at & 7;
    c.schema_version = (*at++ >> 3) & 3;
    const std::size_t n = at < end ? *at++ : 0;
    for (std::size_t i = 0; i < n && at < end; ++i) c.children.push_back(*at++);
    std::size_t words = at < end ? *at++ : 0;
    words |= at < end ? std::size_t{*at++} << 8 : 0;
    c.payload.resize(words * sizeof(capnp::word));
    const std::size_t have = std::min<std::size_t>(c.payload.size(), static_cast<std::size_t>(end - at));
    if (have != 0) std::memcpy(c.payload.data(), at, have);
    at += have;
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  if (const auto corpus = fuzz_support::corpus_directory(*argc, *argv)) write_seeds(*corpus);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 6) return 0;
  const std::size_t state = data[0] % std::size(keys);
  const std::string_view key = keys[state];
  const payloads::descriptor d{data[1], static_cast<std::uint64_t>(data[4] | data[5] << 8), data[2], data[3]};
  // The value's bytes: the descriptor, or for the struct state ChunkedMembers
  // listing one member with it (and an empty struct as the state's message,
  // which decodes to defaults).
  std::array<capnp::word, payloads::descriptor_words> descriptor{};
  std::span<const capnp::word> value = std::span(descriptor).first(payloads::write_descriptor(descriptor, d));
  kj::Array<capnp::word> members;
  if (state == world_key) {
    capnp::MallocMessageBuilder message;
    message.getRoot<capnp::AnyPointer>().initAsAnyStruct(0, 0);
    const instadump::storage::chunked_member m{std::string(member_paths[data[0] / 4 % 3]), d.root, d.size, d.tail,
                                               d.delta};
    members = instadump::storage::encode_chunked_members(message, std::span(&m, 1));
    value = std::span<const capnp::word>(members.begin(), members.size());
  }

  // Every chunk sealed under its id (1, 2, ...), as the store keeps it.
  std::vector<std::vector<std::byte>> sealed;
  for (const input_chunk& c : read_chunks(data + 6, data + size)) {
    const std::vector<std::uint64_t> children(c.children.begin(), c.children.end());
    const kj::ArrayPtr<const capnp::word> payload(reinterpret_cast<const capnp::word*>(c.payload.data()),
                                                  c.payload.size() / sizeof(capnp::word));
    sealed.push_back(instadump::storage::encode_chunk(sealed.size() + 1, {0, c.schema_version}, node_types[c.kind],
                                                      children, payload));
  }
  try {
    instadump::check_chunked_value_decodes(
        key, std::as_bytes(value),
        [&](std::uint64_t id) -> std::span<const std::byte> {
          if (id == 0 || id > sealed.size()) return {};
          return sealed[id - 1];
        });
  } catch (const instadump::load_failed&) {
  }
  return 0;
}

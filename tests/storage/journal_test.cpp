// The journal (format 3): small snapshots go to journal.log first and into
// data.mdb in the background. What the save returned is what data.mdb ends
// up holding; what a crash leaves in the journal comes back at the next
// writable open; a torn or foreign journal is handled; a full journal, a
// failed flush and a data.mdb that cannot take the snapshots lose nothing.
#include <catch2/catch.hpp>

#include "instadump/capnp_compat.h"  // before any Cap'n Proto header

#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <capnp/serialize.h>
#include <kj/io.h>

#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>

#include "common/errors.h"
#include "storage/journal_frame.h"
#include "storage/test_hooks.h"
#include "test_util.h"

using namespace instadump::storage;
using storage_test::pattern;
using storage_test::read_all;
using storage_test::run_in_child;
using storage_test::scratch_dir;
using storage_test::value_of;

namespace {

std::vector<std::byte> read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> chars{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::vector<std::byte> bytes(chars.size());
  std::memcpy(bytes.data(), chars.data(), chars.size());
  return bytes;
}

std::vector<journal_frame> frames_in(const std::filesystem::path& dir) {
  return parse_journal_frames(read_bytes(dir / "journal.log"));
}

// Snapshot n of a sequence: "a" changes every time, "k<n>" is new.
snapshot_delta step(std::uint64_t n, std::size_t size = 64) {
  snapshot_delta d;
  d.put.push_back(value_of("a", pattern(size, n)));
  d.put.push_back(value_of("k" + std::to_string(n), pattern(size, 1000 + n)));
  return d;
}

// Holds the background writer of journaled snapshots for a scope.
struct held_applier {
  held_applier() { testing::hold_journal_applier(true); }
  ~held_applier() { testing::hold_journal_applier(false); }
};

// Writes snapshots 1..n with step() in a child that then dies without closing
// the store (as a crash would), the background writer held: all of them stay
// in the journal only.
void crash_with_journaled(const std::filesystem::path& dir, std::uint64_t n, store_options options = {}) {
  const int child = run_in_child([&] {
    testing::hold_journal_applier(true);  // until the process dies
    auto store = snapshot_store::open(dir, options);
    for (std::uint64_t i = 1; i <= n; ++i) {
      if (store->write_snapshot(i - 1, step(i), true).id != i) return false;
    }
    (void)store.release();  // dies with the process, unclosed
    return true;
  });
  REQUIRE(child == 0);
}

store_options read_only() {
  store_options o;
  o.read_only = true;
  return o;
}

// Cap'n Proto's packing of `words` words that are not zero (0xff tags, no
// runs) -- the simplest valid packed form.
std::vector<std::byte> packed_dense(const std::vector<std::byte>& unpacked) {
  std::vector<std::byte> out;
  for (std::size_t at = 0; at < unpacked.size(); at += 8) {
    out.push_back(std::byte{0xff});
    out.insert(out.end(), unpacked.begin() + static_cast<std::ptrdiff_t>(at),
               unpacked.begin() + static_cast<std::ptrdiff_t>(at + 8));
    out.push_back(std::byte{0});  // no words copied as they are
  }
  out.resize((out.size() + 7) / 8 * 8, std::byte{0});
  return out;
}

// A journal frame of snapshot `id` whose payload unpacks to `unpacked`
// (words with no zero byte).
std::vector<std::byte> frame(std::uint64_t id, const std::vector<std::byte>& unpacked) {
  const std::vector<std::byte> payload = packed_dense(unpacked);
  std::vector<std::byte> out(kJournalFrameHeaderBytes);
  const std::span<const std::byte> parts[] = {payload};
  fill_journal_frame_header(out.data(), id, unpacked.size(), parts);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

// Bytes without a zero byte, distinct per seed.
std::vector<std::byte> dense(std::size_t size, std::uint64_t seed) {
  std::vector<std::byte> out = pattern(size, seed);
  for (std::byte& b : out) b |= std::byte{1};
  return out;
}

}  // namespace

TEST_CASE("packed words unpack exactly, and nothing else does") {
  // A zero word and two more (a run of 2), a word of two bytes, then a word
  // of eight bytes followed by one word copied as it is.
  const std::vector<std::byte> packed = {
      std::byte{0x00}, std::byte{2},                                   // 3 zero words
      std::byte{0x81}, std::byte{0xaa}, std::byte{0xbb},               // aa 0 0 0 0 0 0 bb
      std::byte{0xff}, std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}, std::byte{5}, std::byte{6},
      std::byte{7}, std::byte{8}, std::byte{1},                        // 1..8, then 1 word as it is
      std::byte{9}, std::byte{0}, std::byte{9}, std::byte{0}, std::byte{9}, std::byte{0}, std::byte{9}, std::byte{0},
      std::byte{0}, std::byte{0}};                                     // padding
  std::vector<std::byte> out(6 * 8);
  REQUIRE(unpack_words(packed, out));
  CHECK(std::all_of(out.begin(), out.begin() + 24, [](std::byte b) { return b == std::byte{0}; }));
  CHECK(out[24] == std::byte{0xaa});
  CHECK(out[31] == std::byte{0xbb});
  CHECK(out[32] == std::byte{1});
  CHECK(out[39] == std::byte{8});
  CHECK(out[40] == std::byte{9});
  CHECK(out[47] == std::byte{0});
  // (The two bytes of padding are a packed zero word themselves: 7 words
  // unpack too. The frame's checksum covers the size it claims.)
  std::vector<std::byte> seven(7 * 8), too_big(8 * 8), too_small(5 * 8);
  CHECK(unpack_words(packed, seven));
  CHECK_FALSE(unpack_words(packed, too_big));    // runs out of input
  CHECK_FALSE(unpack_words(packed, too_small));  // the run would overflow it
  std::vector<std::byte> trailing = packed;
  trailing.back() = std::byte{1};
  CHECK_FALSE(unpack_words(trailing, out));  // padding that is not zero
}

TEST_CASE("packing and unpacking words round-trip, and Cap'n Proto reads what is packed") {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 200; ++round) {
    // Words of every kind: zero (in runs), sparse, dense (in runs), mixed.
    std::vector<std::uint64_t> words(rng() % 700);
    for (std::size_t i = 0; i < words.size(); ++i) {
      switch ((i / 37 + rng()) % 4) {
        case 0: words[i] = 0; break;
        case 1: words[i] = rng() & 0x00ff0000000000ffull; break;
        case 2: words[i] = rng() | 0x0101010101010101ull; break;
        default: words[i] = rng(); break;
      }
    }
    const auto bytes = std::as_bytes(std::span(words));
    std::vector<std::byte> packed;
    pack_words(bytes.first(bytes.size() / 2 / 8 * 8), packed);  // in two parts
    pack_words(bytes.subspan(bytes.size() / 2 / 8 * 8), packed);
    std::vector<std::byte> back(bytes.size());
    REQUIRE(unpack_words(packed, back));
    REQUIRE(std::equal(back.begin(), back.end(), bytes.begin()));
    // The packer this CPU uses and the portable one write the same bytes.
    std::vector<std::byte> fast(packed_bound(bytes.size())), portable(packed_bound(bytes.size()));
    const std::size_t fast_bytes = pack_words_into(bytes, fast.data());
    REQUIRE(fast_bytes == instadump::storage::detail::pack_words_portable(bytes, portable.data()));
    REQUIRE(std::equal(fast.begin(), fast.begin() + fast_bytes, portable.begin()));
  }
  // A message packed here reads back with Cap'n Proto's own packed reader.
  capnp::MallocMessageBuilder message;
  auto list = message.initRoot<capnp::AnyPointer>().initAs<capnp::List<std::uint64_t>>(300);
  for (unsigned i = 0; i < 300; ++i) list.set(i, i % 3 == 0 ? 0 : (i % 3 == 1 ? i : ~std::uint64_t{i}));
  const auto flat = capnp::messageToFlatArray(message);
  std::vector<std::byte> packed;
  pack_words(std::as_bytes(std::span(flat.begin(), flat.size())), packed);
  kj::ArrayInputStream in(kj::arrayPtr(reinterpret_cast<const kj::byte*>(packed.data()), packed.size()));
  capnp::PackedMessageReader reader(in);
  auto read = reader.getRoot<capnp::AnyPointer>().getAs<capnp::List<std::uint64_t>>();
  REQUIRE(read.size() == 300);
  CHECK(read[2] == ~std::uint64_t{2});
  CHECK(read[4] == 4);
}

TEST_CASE("journal frames are read from the start while whole, intact and consecutive") {
  const auto p1 = dense(64, 1), p2 = dense(16, 2), p3 = dense(8, 3);
  std::vector<std::byte> file;
  for (const auto& f : {frame(7, p1), frame(8, p2), frame(9, p3)}) file.insert(file.end(), f.begin(), f.end());
  const auto frames = parse_journal_frames(file);
  REQUIRE(frames.size() == 3);
  CHECK(frames[1].snapshot_id == 8);
  CHECK(frames[1].offset == kJournalFrameHeaderBytes + frame(7, p1).size() - kJournalFrameHeaderBytes);
  CHECK(std::memcmp(frames[2].payload.data(), p3.data(), 8) == 0);
  CHECK(parse_journal_frames(file, 7).size() == 3);
  CHECK(parse_journal_frames(file, 8).empty());

  SECTION("a frame cut short ends them") {
    file.resize(file.size() - 1);
    CHECK(parse_journal_frames(file).size() == 2);
  }
  SECTION("a flipped byte ends them") {
    file[frames[1].offset + kJournalFrameHeaderBytes + 3] ^= std::byte{1};
    CHECK(parse_journal_frames(file).size() == 1);
  }
  SECTION("a frame left from before (an older id) ends them") {
    const auto stale = frame(3, p3);
    file.insert(file.end(), stale.begin(), stale.end());
    CHECK(parse_journal_frames(file).size() == 3);
  }
  SECTION("zeros (a preallocated tail) end them") {
    file.resize(file.size() + 4096, std::byte{0});
    CHECK(parse_journal_frames(file).size() == 3);
  }
}

TEST_CASE("a journaled snapshot is what the save returned, in reads and in data.mdb") {
  scratch_dir tmp;
  auto held = std::make_unique<held_applier>();
  auto store = snapshot_store::open(tmp.path(), {});
  snapshot_delta first;
  first.put.push_back(value_of("a", pattern(64, 1)));
  first.put.push_back(value_of("empty", {}));
  first.put.push_back(value_of("c", pattern(128, 2), {9, 3}));
  const snapshot_info one = store->write_snapshot(0, std::move(first), true);
  snapshot_delta second;
  second.put.push_back(value_of("a", pattern(64, 3)));
  second.put.push_back(value_of("d", pattern(8, 4)));
  second.remove = {"empty", "never-there"};
  const snapshot_info two = store->write_snapshot(1, std::move(second), true);
  // Both are in the journal, and only there.
  const auto frames = frames_in(tmp.path());
  REQUIRE(frames.size() == 2);
  CHECK(frames[1].snapshot_id == 2);
  CHECK(one.id == 1);
  CHECK(two.id == 2);
  CHECK(two.total_bytes == 64 + 128 + 8);
  held.reset();

  // A read writes them into data.mdb first; the stored entries are exactly
  // the ones the saves returned (ids, blobs, offsets, checksums).
  const auto listed = store->list_snapshots();
  REQUIRE(listed.size() == 2);
  for (const entry_info& e : two.entries) {
    auto it = std::find_if(listed[0].entries.begin(), listed[0].entries.end(),
                           [&](const entry_info& s) { return s.key == e.key; });
    REQUIRE(it != listed[0].entries.end());
    CHECK(*it == e);
  }
  for (const entry_info& e : one.entries) {
    auto it = std::find_if(listed[1].entries.begin(), listed[1].entries.end(),
                           [&](const entry_info& s) { return s.key == e.key; });
    REQUIRE(it != listed[1].entries.end());
    CHECK(*it == e);
  }
  CHECK(listed[0].total_bytes == two.total_bytes);
  CHECK(listed[0].created_unix_nanos == two.created_unix_nanos);
  const auto values = read_all(*store, 2);
  CHECK(values.size() == 3);
  CHECK(values.at("a") == pattern(64, 3));
  CHECK(values.at("c") == pattern(128, 2));
  CHECK(values.at("d") == pattern(8, 4));
  CHECK(read_all(*store, 1).at("empty").empty());
}

TEST_CASE("journaled snapshots a crash kept from data.mdb come back at the next writable open") {
  scratch_dir tmp;
  crash_with_journaled(tmp.path(), 5);
  REQUIRE(frames_in(tmp.path()).size() == 5);
  {
    auto ro = snapshot_store::open(tmp.path(), read_only());  // data.mdb has none of them; readers see the journal
    CHECK(ro->newest()->id == 5);
  }
  {
    auto store = snapshot_store::open(tmp.path(), {});
    CHECK(store->snapshot_ids() == std::vector<std::uint64_t>{5, 4});
    const auto values = read_all(*store, 5);
    CHECK(values.size() == 6);
    CHECK(values.at("a") == pattern(64, 5));
    CHECK(values.at("k3") == pattern(64, 1003));
    CHECK(read_all(*store, 4).at("a") == pattern(64, 4));
    // The next save follows them.
    CHECK(store->write_snapshot(5, step(6), true).id == 6);
  }
  auto ro = snapshot_store::open(tmp.path(), read_only());
  CHECK(ro->newest()->id == 6);
}

TEST_CASE("journaled snapshots after a direct write come back after a crash") {
  scratch_dir tmp;
  const int child = run_in_child([&] {
    testing::hold_journal_applier(true);  // until the process dies
    auto store = snapshot_store::open(tmp.path(), {});
    store->write_snapshot(0, step(1), true);  // journaled
    store->write_snapshot(1, step(2), true);  // journaled
    snapshot_delta large;
    large.put.push_back(value_of("big", pattern(16 * 1024, 7)));
    store->write_snapshot(2, std::move(large), true);  // direct, after 1 and 2
    store->write_snapshot(3, step(4), true);           // journaled again
    store->write_snapshot(4, step(5), true);
    (void)store.release();
    return true;
  });
  REQUIRE(child == 0);
  auto store = snapshot_store::open(tmp.path(), {});
  CHECK(store->snapshot_ids() == std::vector<std::uint64_t>{5, 4});
  const auto values = read_all(*store, 5);
  CHECK(values.at("a") == pattern(64, 5));
  CHECK(values.at("big") == pattern(16 * 1024, 7));
}

TEST_CASE("saves fill one half of the journal while the other goes into data.mdb, across crashes") {
  scratch_dir tmp;
  store_options small;
  small.journal_bytes = 64 * 1024;  // halves of 32 KiB: seven of these snapshots each
  std::uint64_t newest = 0;
  for (int round = 0; round < 3; ++round) {
    const int child = run_in_child([&] {
      testing::hold_journal_applier(round != 1);  // round 1: the background writer runs too
      auto store = snapshot_store::open(tmp.path(), small);
      for (std::uint64_t i = newest + 1; i <= newest + 20; ++i) {
        if (store->write_snapshot(i - 1, step(i, 4096), true).id != i) return false;
      }
      (void)store.release();
      return true;
    });
    REQUIRE(child == 0);
    newest += 20;
    auto store = snapshot_store::open(tmp.path(), small);
    CHECK(store->snapshot_ids() == std::vector<std::uint64_t>{newest, newest - 1});
    const auto values = read_all(*store, newest);
    CHECK(values.at("a") == pattern(4096, newest));
    CHECK(values.at("k" + std::to_string(newest - 10)) == pattern(4096, 1000 + newest - 10));
  }
}

TEST_CASE("a torn frame ends the journal: the snapshots before it come back") {
  scratch_dir tmp;
  crash_with_journaled(tmp.path(), 3);
  const auto frames = frames_in(tmp.path());
  REQUIRE(frames.size() == 3);
  {
    std::fstream f(tmp / "journal.log", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(frames[2].offset + kJournalFrameHeaderBytes + 16));
    f.put('\x55');
  }
  auto store = snapshot_store::open(tmp.path(), {});
  CHECK(store->snapshot_ids() == std::vector<std::uint64_t>{2, 1});
  CHECK(read_all(*store, 2).at("a") == pattern(64, 2));
  CHECK(store->write_snapshot(2, step(3), true).id == 3);
}

TEST_CASE("a journal written for another data.mdb is refused until it is removed") {
  scratch_dir tmp, other;
  { snapshot_store::open(other.path(), {})->write_snapshot(0, step(1), true); }
  crash_with_journaled(tmp.path(), 3);
  std::filesystem::copy_file(other / "data.mdb", tmp / "data.mdb", std::filesystem::copy_options::overwrite_existing);
  try {
    snapshot_store::open(tmp.path(), {});
    FAIL("opened");
  } catch (const instadump::open_failed& e) {
    CHECK_THAT(e.what(), Catch::Contains("another copy of data.mdb") && Catch::Contains("journal.log") &&
                             Catch::Contains("remove"));
  }
  // A read-only open reports it as damage of journal.log (data.mdb did not
  // change while it read).
  CHECK_THROWS_WITH(snapshot_store::open(tmp.path(), read_only())->newest(),
                    Catch::Contains("another copy of data.mdb") && Catch::Contains("journal.log"));
  // Refusing changed nothing: data.mdb is the copy, the journal still there.
  CHECK(frames_in(tmp.path()).size() == 3);
  std::filesystem::remove(tmp / "journal.log");
  auto store = snapshot_store::open(tmp.path(), {});
  CHECK(store->newest()->id == 1);
}

TEST_CASE("a journal whose snapshots do not follow data.mdb's newest is refused") {
  scratch_dir tmp;
  crash_with_journaled(tmp.path(), 3);
  const auto frames = frames_in(tmp.path());
  // Drop the first frame: the journal now starts at snapshot 2 on an empty data.mdb.
  std::vector<std::byte> bytes = read_bytes(tmp / "journal.log");
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(frames[1].offset));
  {
    std::ofstream out(tmp / "journal.log", std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  CHECK_THROWS_WITH(snapshot_store::open(tmp.path(), {}), Catch::Contains("holds snapshot 2") &&
                                                             Catch::Contains("newest snapshot is 0"));
}

TEST_CASE("a full journal: the save first writes the journaled snapshots into data.mdb") {
  scratch_dir tmp;
  auto held = std::make_unique<held_applier>();
  store_options small;
  small.journal_bytes = 64 * 1024;
  auto store = snapshot_store::open(tmp.path(), small);
  for (std::uint64_t i = 1; i <= 40; ++i) REQUIRE(store->write_snapshot(i - 1, step(i, 4096), true).id == i);
  held.reset();
  CHECK(store->snapshot_ids() == std::vector<std::uint64_t>{40, 39});
  const auto values = read_all(*store, 40);
  CHECK(values.size() == 41);
  CHECK(values.at("k17") == pattern(4096, 1017));
  store.reset();
  auto again = snapshot_store::open(tmp.path(), small);
  CHECK(read_all(*again, 40).at("a") == pattern(4096, 40));
}

TEST_CASE("large values, and snapshots not on the newest, go to data.mdb directly") {
  scratch_dir tmp;
  held_applier held;
  auto store = snapshot_store::open(tmp.path(), {});
  store->write_snapshot(0, step(1), true);  // journaled
  snapshot_delta large;
  large.put.push_back(value_of("big", pattern(16 * 1024, 7)));
  CHECK(store->write_snapshot(1, std::move(large), true).id == 2);  // direct, after snapshot 1
  auto newest_seen_by_a_reader = [&] {
    return run_in_child([&] {
      auto ro = snapshot_store::open(tmp.path(), read_only());
      return ro->newest() && ro->newest()->id == 2;
    });
  };
  CHECK(newest_seen_by_a_reader() == 0);
  store->write_snapshot(2, step(3), true);  // journaled again: a reader sees it in the journal
  CHECK(run_in_child([&] { return snapshot_store::open(tmp.path(), read_only())->newest()->id == 3; }) == 0);
  CHECK(store->write_snapshot(2, step(4), true).id == 4);  // on an older one: direct, after 3
  const auto values = read_all(*store, 4);
  CHECK(values.at("big") == pattern(16 * 1024, 7));
  CHECK(values.count("k3") == 0);
  CHECK(values.at("a") == pattern(64, 4));
}

TEST_CASE("a failed flush of the journal poisons the store, and after reopening every snapshot loads") {
  scratch_dir tmp;
  {
    held_applier held;  // (else the background writer's flush might take the failure)
    auto store = snapshot_store::open(tmp.path(), {});
    store->write_snapshot(0, step(1), true);
    testing::fail_next_sync(EIO);
    try {
      store->write_snapshot(1, step(2), true);
      FAIL("the save succeeded");
    } catch (const instadump::save_failed& e) {
      CHECK_THAT(e.what(), Catch::Contains("journal") && Catch::Contains("reopen"));
    }
    CHECK(store->poisoned());
    CHECK_THROWS_AS(store->write_snapshot(1, step(3), true), instadump::save_failed);
  }
  auto store = snapshot_store::open(tmp.path(), {});
  const auto newest = store->newest();
  REQUIRE(newest);
  // Snapshot 2's frame was written, only its flush "failed": it may be there.
  CHECK((newest->id == 1 || newest->id == 2));
  CHECK(read_all(*store, newest->id).at("a") == pattern(64, newest->id));
  CHECK(store->write_snapshot(newest->id, step(newest->id + 1), true).id == newest->id + 1);
}

TEST_CASE("make_durable flushes what was written without a flush just once and a failed flush poisons the store") {
  for (const bool journal : {true, false}) {
    CAPTURE(journal);
    scratch_dir tmp;
    held_applier held;  // (else the background writer's flush might take the failure)
    store_options o;
    o.journal = journal;
    auto store = snapshot_store::open(tmp.path(), o);
    store->write_snapshot(0, step(1), true);
    // Nothing written without a flush: nothing to flush (the injected
    // failure stays armed).
    testing::fail_next_sync(EIO);
    store->make_durable();
    testing::fail_next_sync(0);
    store->write_snapshot(1, step(2), false);
    store->make_durable();
    testing::fail_next_sync(EIO);
    store->make_durable();  // flushed already
    testing::fail_next_sync(0);
    // A flush that fails: the snapshot may not be durable, so nothing more
    // is written (as when a durable save's own flush fails).
    store->write_snapshot(2, step(3), false);
    testing::fail_next_sync(EIO);
    try {
      store->make_durable();
      FAIL("the flush succeeded");
    } catch (const instadump::save_failed& e) {
      CHECK_THAT(e.what(), Catch::Contains("flushing") && Catch::Contains(tmp.path().string()) &&
                               Catch::Contains("refuses further writes"));
    }
    testing::fail_next_sync(0);
    CHECK(store->poisoned());
    CHECK_THROWS_AS(store->make_durable(), instadump::save_failed);
    CHECK_THROWS_AS(store->write_snapshot(3, step(4), true), instadump::save_failed);
  }
}

TEST_CASE("when data.mdb cannot take journaled snapshots, saves go on until the journal is full, and nothing is lost") {
  scratch_dir tmp;
  store_options small;
  small.journal_bytes = 64 * 1024;
  { snapshot_store::open(tmp.path(), small)->write_snapshot(0, step(1), true); }
  const int child = run_in_child([&] {
    ::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of being killed
    auto store = snapshot_store::open(tmp.path(), small);  // (the journal is preallocated already)
    // data.mdb may not grow any more: the background writer fails.
    rlimit rl{std::filesystem::file_size(tmp / "data.mdb"), RLIM_INFINITY};
    if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) return false;
    std::uint64_t id = 1;
    try {
      for (; id < 1000; ++id) store->write_snapshot(id, step(id + 1, 4096), true);
      return false;  // the journal never filled up
    } catch (const instadump::save_failed& e) {
      if (std::string(e.what()).find("journal") == std::string::npos) return false;
    }
    if (store->poisoned() || id < 2) return false;
    // Reads need data.mdb to hold them: they say why they cannot.
    try {
      store->newest();
      return false;
    } catch (const instadump::load_failed&) {
    }
    // Space is back: everything goes in, and saving goes on.
    rl.rlim_cur = RLIM_INFINITY;
    if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) return false;
    if (store->newest()->id != id) return false;
    if (read_all(*store, id).at("a") != pattern(4096, id)) return false;
    return store->write_snapshot(id, step(id + 1, 4096), true).id == id + 1;
  });
  CHECK(child == 0);
  auto store = snapshot_store::open(tmp.path(), small);
  const auto newest = store->newest();
  REQUIRE(newest);
  CHECK(read_all(*store, newest->id).at("a") == pattern(4096, newest->id));
}

TEST_CASE("the background writer, saves and reads run side by side") {
  scratch_dir tmp;
  auto store = snapshot_store::open(tmp.path(), {});
  store->write_snapshot(0, step(1), true);
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::thread reader([&] {
    while (!done) {
      const auto newest = store->newest();
      if (!newest) continue;
      try {
        const auto values = read_all(*store, newest->id);
        if (values.at("a") != pattern(64, newest->id)) ++bad;
      } catch (const instadump::load_failed&) {
        // pruned meanwhile
      }
    }
  });
  for (std::uint64_t i = 2; i <= 300; ++i) REQUIRE(store->write_snapshot(i - 1, step(i), i % 2 == 0).id == i);
  done = true;
  reader.join();
  CHECK(bad == 0);
  CHECK(store->newest()->id == 300);
}

TEST_CASE("a batch of journaled snapshots that replace each other writes about what it keeps") {
  // Each snapshot replaces the one 8 KiB value: a batch of 200 of them keeps
  // the newest few blobs. The pages of the ones a later snapshot of the
  // batch prunes are reused within it, so data.mdb does not grow by the 1.6
  // MB the batch wrote and deleted.
  scratch_dir tmp;
  auto store = snapshot_store::open(tmp.path(), {});
  auto replace_a = [](std::uint64_t n) {
    snapshot_delta d;
    d.put.push_back(value_of("a", pattern(8192, n)));
    return d;
  };
  std::uint64_t id = 0;
  // Some batches first, so that LMDB has freed pages to reuse.
  for (int batch = 0; batch < 4; ++batch) {
    held_applier held;
    for (int i = 0; i < 10; ++i, ++id) REQUIRE(store->write_snapshot(id, replace_a(id + 1), true).id == id + 1);
    store->flush_journal();
  }
  const std::uint64_t before = store->stats().file_bytes;
  {
    held_applier held;
    for (int i = 0; i < 200; ++i, ++id) REQUIRE(store->write_snapshot(id, replace_a(id + 1), true).id == id + 1);
    store->flush_journal();
  }
  const std::uint64_t grown = store->stats().file_bytes - before;
  INFO("data.mdb grew by " << grown << " bytes");
  CHECK(grown < 200 * 1024);
  CHECK(read_all(*store, id).at("a") == pattern(8192, id));
  store.reset();
  CHECK(read_all(*snapshot_store::open(tmp.path(), {}), id).at("a") == pattern(8192, id));
}

// Read-only opens see every snapshot, journal included: the snapshots a
// writer in another process journaled (saving in a loop, or SIGKILLed with
// them still in journal.log) are read whole, ids never go backwards, and a
// damaged frame is reported rather than misread. The writers run in forked
// children: LMDB opens a store once per process.
#include <catch2/catch.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <string>

#include "common/errors.h"
#include "storage/journal_file.h"
#include "storage/test_hooks.h"
#include "chunk_tree.h"
#include "test_util.h"

using namespace instadump::storage;
using storage_test::pattern;
using storage_test::read_all;
using storage_test::scratch_dir;
using storage_test::start_child;
using storage_test::value_of;

namespace {

store_options read_only() {
  store_options o;
  o.read_only = true;
  return o;
}

// Snapshot n's change: "a" and "b" both made from n (so a reader can tell
// they belong to one snapshot), and a key of its own.
snapshot_delta step(std::uint64_t n) {
  snapshot_delta d;
  d.put.push_back(value_of("a", pattern(64, n)));
  d.put.push_back(value_of("b", pattern(32, 1000 + n)));
  d.put.push_back(value_of("k" + std::to_string(n % 5), pattern(16, 2000 + n)));
  return d;
}

// Kills a child started with start_child when the test leaves its scope
// early (a failed REQUIRE), so that no paused writer outlives the test.
struct child_guard {
  pid_t pid;
  ~child_guard() {
    if (::kill(pid, 0) == 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

// The child's exit code, 128 + signal when killed; -1 while it runs (no_hang).
int wait_child(pid_t pid, bool no_hang = false) {
  int status = 0;
  for (;;) {
    const pid_t got = ::waitpid(pid, &status, no_hang ? WNOHANG : 0);
    if (got == 0) return -1;
    if (got == pid) break;
  }
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

// Whether `fd` has something to read (without waiting).
bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

// Writes snapshots 1..n (step) in a child that holds the background writer
// and is then SIGKILLed: all of them stay in journal.log only.
void kill_with_journaled(const std::filesystem::path& dir, std::uint64_t n) {
  const int code = storage_test::run_in_child([&] {
    testing::hold_journal_applier(true);
    auto store = snapshot_store::open(dir, {});
    for (std::uint64_t i = 1; i <= n; ++i) {
      if (store->write_snapshot(i - 1, step(i), true).id != i) return false;
    }
    ::raise(SIGKILL);
    return false;
  });
  REQUIRE(code == 128 + SIGKILL);
}

// Checks that snapshot `id` as `store` reads it is whole: "a" and "b" are
// of the same step, and the keys of its own are those of steps up to it.
void check_whole(const snapshot_store& store, std::uint64_t id) {
  const auto values = read_all(store, id);
  REQUIRE(values.count("a") == 1);
  REQUIRE(values.count("b") == 1);
  CHECK(values.at("a") == pattern(64, id));
  CHECK(values.at("b") == pattern(32, 1000 + id));
  CHECK(values.at("k" + std::to_string(id % 5)) == pattern(16, 2000 + id));
}

void flip_byte(const std::filesystem::path& file, std::uint64_t offset) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  const char c = static_cast<char>(f.get());
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x55));
}

}  // namespace

TEST_CASE("a read-only open sees what a SIGKILLed writer left in the journal, before any writer reopens") {
  scratch_dir tmp;
  kill_with_journaled(tmp.path(), 5);
  REQUIRE(read_journal_contents(tmp.path()).frames.size() == 5);
  {
    auto ro = snapshot_store::open(tmp.path(), read_only());
    // Every journaled snapshot (the writer would keep 2 once they are in
    // data.mdb; until then a reader can read them all).
    CHECK(ro->snapshot_ids() == std::vector<std::uint64_t>{5, 4, 3, 2, 1});
    const auto listed = ro->list_snapshots();
    REQUIRE(listed.size() == 5);
    CHECK(listed.front().id == 5);
    CHECK(listed.front().entries.size() == 7);  // a, b, k0..k4
    REQUIRE(ro->newest());
    CHECK(ro->newest()->id == 5);
    CHECK(*ro->newest() == listed.front());
    for (std::uint64_t id = 1; id <= 5; ++id) check_whole(*ro, id);
    CHECK(read_all(*ro, 5).at("k1") == pattern(16, 2001));  // from snapshot 1, kept since
    CHECK(ro->get_schema(7) == std::nullopt);
    const store_stats stats = ro->stats();
    CHECK(stats.snapshot_count == 5);
    CHECK(stats.journaled_snapshots == 5);
    CHECK(stats.journaled_bytes == 5 * (64 + 32 + 16));
    // Nothing was written: the journal still holds them, data.mdb none.
    CHECK(read_journal_contents(tmp.path()).frames.size() == 5);
  }
  // A writer's open writes them into data.mdb; readers see the same.
  snapshot_store::open(tmp.path(), {}).reset();
  auto ro = snapshot_store::open(tmp.path(), read_only());
  CHECK(ro->snapshot_ids() == std::vector<std::uint64_t>{5, 4});
  check_whole(*ro, 5);
  CHECK(ro->stats().journaled_snapshots == 0);
}

TEST_CASE("schemas and chunks of journaled snapshots are read from the journal") {
  scratch_dir tmp;
  storage_test::chunk_tree t(64, 4, 4);
  const int code = storage_test::run_in_child([&] {
    testing::hold_journal_applier(true);
    auto store = snapshot_store::open(tmp.path(), {});
    snapshot_delta d = t.delta(store->next_chunk_id());
    const schema_record schema{storage_test::kTreeSchema.fingerprint, {std::byte{1}, std::byte{2}}};
    store->write_snapshot(0, std::move(d), true, std::span(&schema, 1));
    t.change_leaf(5, 77);
    store->write_snapshot(1, t.delta(store->next_chunk_id()), true);
    ::raise(SIGKILL);
    return false;
  });
  REQUIRE(code == 128 + SIGKILL);
  // (The child's tree is this process's too: the same changes give the same seeds.)
  t.delta(1);
  const std::uint64_t first_root = t.root();
  t.change_leaf(5, 77);
  t.delta(first_root + 1);
  auto ro = snapshot_store::open(tmp.path(), read_only());
  REQUIRE(ro->stats().journaled_snapshots == 2);
  CHECK(storage_test::read_tree(*ro, 2) == t.seeds());
  CHECK(storage_test::read_tree(*ro, 1).at(5) == 6);
  CHECK(ro->get_schema(storage_test::kTreeSchema.fingerprint) == std::vector<std::byte>{std::byte{1}, std::byte{2}});
  CHECK(ro->next_chunk_id() == t.root() + 1);
  CHECK(ro->stats().chunk_count >= t.ids().size());
}

TEST_CASE("a read-only open next to a writer saving in a loop reads only whole snapshots, never going back") {
  scratch_dir tmp;
  constexpr std::uint64_t kSaves = 1500;
  constexpr unsigned kKeep = 20;
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t writer = start_child([&] {
    ::close(ready[0]);
    store_options o;
    o.journal_bytes = 64 << 10;  // halves of 32 KiB: the journal starts over every hundred saves or so
    o.journal_delay = std::chrono::milliseconds(2);
    o.keep_generations = kKeep;
    auto store = snapshot_store::open(tmp.path(), o);
    std::uint64_t id = 0;
    for (std::uint64_t i = 1; i <= kSaves; ++i) {
      id = store->write_snapshot(id, step(i), i % 7 == 0).id;
      if (id != i) return false;
    }
    // The last ones stay journaled until this process is killed.
    testing::hold_journal_applier(true);
    for (std::uint64_t i = kSaves + 1; i <= kSaves + 3; ++i) id = store->write_snapshot(id, step(i), true).id;
    char c = 1;
    if (::write(ready[1], &c, 1) != 1) return false;
    ::pause();
    return false;
  });
  const child_guard guard{writer};
  ::close(ready[1]);
  // The store exists once the writer has saved once.
  std::unique_ptr<snapshot_store> ro;
  while (!ro) {
    try {
      if (std::filesystem::exists(tmp / "data.mdb")) ro = snapshot_store::open(tmp.path(), read_only());
    } catch (const instadump::error&) {
      // (Created meanwhile: not an Instadump store until its meta record is written.)
    }
    REQUIRE(wait_child(writer, true) == -1);
  }
  std::uint64_t last = 0, journaled_seen = 0;
  char c = 0;
  for (bool done = false; !done;) {
    // Whether the writer is at its end before this read: it then sees all.
    done = readable(ready[0]);
    const std::optional<snapshot_info> newest = ro->newest();
    if (!newest) continue;
    REQUIRE(newest->id >= last);
    last = newest->id;
    try {
      check_whole(*ro, last);  // (in a read of its own: the writer may have moved on since)
    } catch (const instadump::load_failed&) {
      REQUIRE(ro->newest()->id >= last + kKeep);  // pruned meanwhile
    }
    if (ro->stats().journaled_snapshots > 0) ++journaled_seen;
  }
  REQUIRE(::read(ready[0], &c, 1) == 1);
  CHECK(last == kSaves + 3);
  CHECK(ro->stats().journaled_snapshots >= 3);
  ::kill(writer, SIGKILL);
  CHECK(wait_child(writer) == 128 + SIGKILL);
  check_whole(*ro, kSaves + 3);
  CHECK(journaled_seen > 0);
}

TEST_CASE("a damaged journal frame is reported, naming journal.log -- a torn last one ends the journal") {
  scratch_dir tmp;
  kill_with_journaled(tmp.path(), 4);
  const auto frames = read_journal_contents(tmp.path()).frames;
  REQUIRE(frames.size() == 4);
  SECTION("damaged, with intact frames behind it") {
    flip_byte(tmp / "journal.log", frames[1].offset + kJournalFrameHeaderBytes + 8);
    auto ro = snapshot_store::open(tmp.path(), read_only());
    int reads = 0;
    testing::before_journal_read([&] { ++reads; });
    CHECK_THROWS_WITH(ro->newest(), Catch::Contains("journal.log") && Catch::Contains("snapshot 2") &&
                                        Catch::Contains("damaged"));
    testing::before_journal_read({});
    CHECK(reads == 3);  // (a frame being written as it is read looks damaged: reported when it stays so)
    CHECK_THROWS_AS(ro->read_snapshot(1, [](const entry_info&, kj::ArrayPtr<const capnp::word>) {}),
                    instadump::corrupt_data);
    CHECK_THROWS_AS(ro->snapshot_ids(), instadump::corrupt_data);
  }
  SECTION("the last frame torn") {
    flip_byte(tmp / "journal.log", frames[3].offset + kJournalFrameHeaderBytes + 8);
    auto ro = snapshot_store::open(tmp.path(), read_only());
    CHECK(ro->snapshot_ids() == std::vector<std::uint64_t>{3, 2, 1});
    check_whole(*ro, 3);
  }
}

// A writer in a child that journals snapshots 1-3 with its applier held,
// then, on a byte from `command`, writes them into data.mdb (a commit),
// starts its journal over and journals snapshot 4 at its start, over
// snapshot 1's frame. It writes a byte to `done` when each step is over.
pid_t start_restarting_writer(const std::filesystem::path& dir, int command_read, int done_write) {
  return start_child([=] {
    testing::hold_journal_applier(true);
    auto store = snapshot_store::open(dir, {});
    for (std::uint64_t i = 1; i <= 3; ++i) store->write_snapshot(i - 1, step(i), true);
    char c = 1;
    if (::write(done_write, &c, 1) != 1 || ::read(command_read, &c, 1) != 1) return false;
    store->flush_journal();
    store->write_snapshot(3, step(4), true);
    if (::write(done_write, &c, 1) != 1) return false;
    ::pause();
    return false;
  });
}

TEST_CASE("a read that races with the writer starting its journal over sees one whole snapshot, never older") {
  scratch_dir tmp;
  int command[2], done[2];
  REQUIRE(::pipe(command) == 0);
  REQUIRE(::pipe(done) == 0);
  const pid_t writer = start_restarting_writer(tmp.path(), command[0], done[1]);
  const child_guard guard{writer};
  char c = 0;
  REQUIRE(::read(done[0], &c, 1) == 1);
  auto ro = snapshot_store::open(tmp.path(), read_only());
  CHECK(ro->newest()->id == 3);  // all three from the journal
  CHECK(ro->stats().journaled_snapshots == 3);
  int reads = 0;
  // The journal is read first, then the transaction begins: a writer that
  // commits and starts its journal over in between (or before) does not
  // make the read go again, however often it does so.
  const auto restart_writer = [&] {
    if (++reads == 1) {
      REQUIRE(::write(command[1], &c, 1) == 1);
      REQUIRE(::read(done[0], &c, 1) == 1);
    }
  };
  std::optional<snapshot_info> newest;
  SECTION("before the journal is read: the read sees snapshot 4, journaled over snapshot 1's frame") {
    testing::before_journal_read(restart_writer);
    newest = ro->newest();
    testing::before_journal_read({});
    REQUIRE(newest);
    CHECK(newest->id == 4);
  }
  SECTION("after the journal is read: the read sees snapshot 3, now in data.mdb; the next one sees 4") {
    testing::before_journal_overlay(restart_writer);
    newest = ro->newest();
    testing::before_journal_overlay({});
    REQUIRE(newest);
    CHECK(newest->id == 3);
    check_whole(*ro, 3);
    CHECK(ro->stats().journaled_snapshots == 1);  // snapshot 4 (the stats read the journal again)
    CHECK(ro->newest()->id == 4);
  }
  CHECK(reads == 1);
  check_whole(*ro, 4);
  CHECK(ro->stats().journaled_snapshots == 1);
  ::kill(writer, SIGKILL);
  CHECK(wait_child(writer) == 128 + SIGKILL);
}

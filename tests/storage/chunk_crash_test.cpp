// Chunked saves killed (SIGKILL) at random moments: a child process saves a
// tree of chunks over and over -- a whole new tree when it starts, then a
// few changed leaves per save, journaled or written directly -- and is
// killed; each time, the store holds whole snapshots: every snapshot the
// child reported saved (or a newer one), every kept snapshot's tree exactly
// as the deterministic sequence of changes says, every chunk it reaches
// present and intact, and no other chunk stored.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <random>

#include "chunk_tree.h"
#include "test_util.h"

using namespace instadump::storage;
using storage_test::chunk_tree;
using storage_test::read_tree;
using storage_test::scratch_dir;

namespace {

constexpr std::size_t kLeaves = 1500;

// Snapshot n changes two leaves (the first snapshot included).
void change_of(std::uint64_t n, const std::function<void(std::size_t leaf, std::uint64_t seed)>& change) {
  change(static_cast<std::size_t>((n * 7919) % kLeaves), n * 2);
  change(static_cast<std::size_t>((n * 104729 + 13) % kLeaves), n * 2 + 1);
}

// The leaf seeds of snapshot n.
std::vector<std::uint64_t> seeds_of(std::uint64_t n) {
  std::vector<std::uint64_t> seeds(kLeaves);
  for (std::size_t i = 0; i < kLeaves; ++i) seeds[i] = i + 1;
  for (std::uint64_t k = 1; k <= n; ++k) change_of(k, [&](std::size_t leaf, std::uint64_t seed) { seeds[leaf] = seed; });
  return seeds;
}

store_options options_for(bool journal) {
  store_options o;
  o.journal = journal;
  o.keep_generations = 2;
  return o;
}

// The child: from the newest stored snapshot on, saves snapshot after
// snapshot, reporting each id on `report`, until it is killed.
[[noreturn]] void save_forever(const std::filesystem::path& dir, bool journal, int report) {
  int code = 3;
  try {
    auto store = snapshot_store::open(dir, options_for(journal));
    const std::optional<snapshot_info> newest = store->newest();
    std::uint64_t n = newest ? newest->id : 0;
    chunk_tree t(kLeaves, 16, 6);
    const std::vector<std::uint64_t> seeds = seeds_of(n);
    for (std::size_t i = 0; i < kLeaves; ++i) t.change_leaf(i, seeds[i]);
    for (;;) {
      ++n;
      change_of(n, [&](std::size_t leaf, std::uint64_t seed) { t.change_leaf(leaf, seed); });
      if (store->write_snapshot(n - 1, t.delta(store->next_chunk_id()), n % 3 != 0).id != n) break;
      if (::write(report, &n, sizeof n) != sizeof n) break;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "child: %s\n", e.what());
  }
  ::_exit(code);
}

}  // namespace

TEST_CASE("chunked saves killed at random moments leave whole snapshots and exactly the chunks they reach") {
  int iterations = 60;
  if (const char* env = std::getenv("INSTADUMP_CRASH_ITERATIONS")) iterations = std::atoi(env);
  scratch_dir tmp;
  std::mt19937 rng(2026);
  std::uint64_t reported = 0;
  for (int i = 0; i < iterations; ++i) {
    const bool journal = i % 4 != 3;
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(pipe_fds[0]);
      save_forever(tmp.path(), journal, pipe_fds[1]);
    }
    ::close(pipe_fds[1]);
    // Let it save a few times (the first: a whole tree), then kill it at a
    // random moment.
    const int saves = 1 + static_cast<int>(rng() % 6);
    for (int k = 0; k < saves; ++k) {
      std::uint64_t id = 0;
      REQUIRE(::read(pipe_fds[0], &id, sizeof id) == sizeof id);
      reported = id;
    }
    ::usleep(static_cast<useconds_t>(rng() % 4000));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    REQUIRE(WIFSIGNALED(status));
    std::uint64_t id = 0;
    while (::read(pipe_fds[0], &id, sizeof id) == sizeof id) reported = id;
    ::close(pipe_fds[0]);

    auto store = snapshot_store::open(tmp.path(), options_for(journal));
    const std::uint64_t newest = store->newest()->id;
    INFO("iteration " << i << ": reported " << reported << ", newest " << newest);
    REQUIRE(newest >= reported);
    for (std::uint64_t s : store->snapshot_ids()) REQUIRE(read_tree(*store, s) == seeds_of(s));
    REQUIRE(store->stats().chunk_count == storage_test::reachable_chunks(*store).size());
    reported = newest;
  }
  CHECK(reported >= static_cast<std::uint64_t>(iterations));
}

// Provisional read points: a transaction starts at the newest stamp its
// thread has seen instead of reading the shared clock (see clock.cppm). These
// tests pin down what that must never cost: commits that finished before a
// transaction began are visible to it, and its snapshot stays consistent.
// Also run under ThreadSanitizer by scripts/test.
#include <catch2/catch.hpp>

#include <atomic>
#include <functional>
#include <thread>
#include <utility>

import instadump;

namespace {

// Leaves this thread's newest stamp behind: this thread commits to `mine`,
// then another thread runs `commits` to the end.
void fall_behind(instadump::ref<long>& mine, const std::function<void()>& commits) {
  instadump::dosync([&] { mine.set(1); });
  std::thread other(commits);
  other.join();
}

}  // namespace

TEST_CASE("a transaction that writes first sees commits that finished before it began", "[stm][concurrency]") {
  instadump::ref<long> mine{0}, theirs{0};
  fall_behind(mine, [&] {
    for (long i = 1; i <= 1000; ++i) instadump::dosync([&] { theirs.set(i); });
  });

  int attempts = 0;
  long seen = instadump::dosync([&] {
    ++attempts;
    mine.set(2);
    return theirs.deref();
  });
  CHECK(seen == 1000);
  CHECK(attempts == 1);  // moving forward needs no restart when nothing read has changed

  // A first write to a ref another thread changed meanwhile is not a conflict.
  attempts = 0;
  instadump::dosync([&] {
    ++attempts;
    theirs.alter([](long v) { return v + 1; });
  });
  CHECK(theirs.deref() == 1001);
  CHECK(attempts == 1);
}

TEST_CASE("a transaction that writes first reads one consistent snapshot", "[stm][concurrency]") {
  instadump::ref<long> counter{0}, a{0}, b{0};
  std::atomic<bool> stop{false};
  std::thread writer([&] {  // keeps a == b
    while (!stop.load()) {
      instadump::dosync([&] {
        a.alter([](long v) { return v + 1; });
        b.alter([](long v) { return v + 1; });
      });
    }
  });
  int inconsistent = 0;
  for (int round = 0; round < 2000; ++round) {
    auto [x, y] = instadump::dosync([&] {
      counter.alter([](long v) { return v + 1; });
      long x = a.deref();
      if (round % 2) std::this_thread::yield();  // let the writer commit in between
      return std::pair{x, b.deref()};
    });
    if (x != y) ++inconsistent;
  }
  stop = true;
  writer.join();
  CHECK(inconsistent == 0);
  CHECK(counter.deref() == 2000);
  CHECK(a.deref() == b.deref());
}

TEST_CASE("a transaction that reads first never restarts for having started behind", "[stm][concurrency]") {
  instadump::ref<long> mine{0}, x{0}, y{0};
  fall_behind(mine, [&] {
    for (long i = 1; i <= 100; ++i) instadump::dosync([&] {
      x.set(i);
      y.set(i);
    });
  });
  int attempts = 0;
  auto [seen_x, seen_y] = instadump::dosync([&] {
    ++attempts;
    return std::pair{x.deref(), y.deref()};
  });
  CHECK(seen_x == 100);
  CHECK(seen_y == 100);
  CHECK(attempts == 1);
}

TEST_CASE("a transaction that starts with ensure does not restart for having started behind", "[stm][concurrency]") {
  instadump::ref<long> mine{0}, guarded{0};
  fall_behind(mine, [&] {
    for (long i = 1; i <= 100; ++i) instadump::dosync([&] { guarded.set(i); });
  });
  int attempts = 0;
  long seen = instadump::dosync([&] {
    ++attempts;
    long g = guarded.ensure();
    mine.set(g);
    return g;
  });
  CHECK(seen == 100);
  CHECK(mine.deref() == 100);
  CHECK(attempts == 1);
}

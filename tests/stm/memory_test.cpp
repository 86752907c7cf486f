// Version reclamation: memory stays bounded over many commits, long readers
// keep what they need alive, and everything is reclaimed once they finish.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <latch>
#include <random>
#include <thread>
#include <vector>

import instadump;

namespace {

// A value type that counts its live instances: every version of a ref holds
// one, so the count measures retained versions exactly.
struct tracked {
  static inline std::atomic<long> live{0};
  long n = 0;
  tracked() { ++live; }
  explicit tracked(long v) : n(v) { ++live; }
  tracked(const tracked& o) : n(o.n) { ++live; }
  tracked& operator=(const tracked&) = default;
  ~tracked() { --live; }
};

// Counts copies; moves are free (noexcept, so the ref may use them).
struct copy_counted {
  static inline std::atomic<long> copies{0};
  std::vector<int> data;
  copy_counted() = default;
  explicit copy_counted(std::size_t n) : data(n, 7) {}
  copy_counted(const copy_counted& o) : data(o.data) { ++copies; }
  copy_counted(copy_counted&&) noexcept = default;
  copy_counted& operator=(const copy_counted&) = default;
};

}  // namespace

TEST_CASE("a ref's default moves into its first version instead of being kept twice", "[stm][memory]") {
  instadump::ref<copy_counted> r{copy_counted(100'000)};
  copy_counted::copies = 0;
  // Many threads use the ref for the first time at once: one makes the
  // first version, every one sees the default.
  std::latch start(8);
  std::atomic<int> right{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      if (r.deref().data.size() == 100'000 && r.deref().data[99'999] == 7) ++right;
      instadump::release_thread_pins();
    });
  }
  for (auto& t : threads) t.join();
  CHECK(right == 8);
  CHECK(copy_counted::copies == 0);
  instadump::dosync([&] { CHECK(r.deref().data.size() == 100'000); });
  CHECK(copy_counted::copies == 0);
}

TEST_CASE("memory stays flat over a million commits", "[stm][memory]") {
  long base = tracked::live;
  {
    instadump::ref<tracked> r;
    for (long i = 0; i < 1'000'000; ++i) instadump::dosync([&] { r.set(tracked(i)); });
    CHECK(r.deref().n == 999'999);
    CHECK(r.chain_length() <= 3);
    CHECK(tracked::live - base <= 5);  // initial value + a few versions and pins
  }
  instadump::release_thread_pins();
  CHECK(tracked::live == base);
}

TEST_CASE("chains of small values stay short over a million commits", "[stm][memory]") {
  // Small trivially copyable values are cut in batches (see ref<T>::rescan_length).
  instadump::ref<long> r{0};
  for (long i = 0; i < 1'000'000; ++i) instadump::dosync([&] { r.alter([](long v) { return v + 1; }); });
  CHECK(r.deref() == 1'000'000);
  CHECK(r.chain_length() <= 9);
}

TEST_CASE("a long reader keeps its snapshot and versions are reclaimed after it ends", "[stm][memory]") {
  long base = tracked::live;
  {
    instadump::ref<tracked> r{tracked(-1)};
    std::latch reader_started(1), release_reader(1);
    long reader_saw = 0;
    std::thread reader([&] {
      instadump::dosync([&] {
        const tracked& first = r.deref();
        reader_started.count_down();
        release_reader.wait();
        reader_saw = first.n + r.deref().n;  // both reads see the same old version
      });
    });
    reader_started.wait();
    for (long i = 0; i < 200'000; ++i) instadump::dosync([&] { r.set(tracked(i)); });
    release_reader.count_down();
    reader.join();
    CHECK(reader_saw == -2);
    // Once the reader is gone, the next commit trims everything it pinned.
    instadump::dosync([&] { r.set(tracked(7)); });
    instadump::dosync([&] { r.set(tracked(8)); });
    CHECK(r.chain_length() <= 3);
    CHECK(tracked::live - base <= 6);
  }
  instadump::release_thread_pins();
  CHECK(tracked::live == base);
}

TEST_CASE("a thread that sleeps between transactions keeps no versions alive", "[stm][memory]") {
  long base = tracked::live;
  {
    instadump::ref<tracked> r{tracked(0)};
    instadump::ref<long> other{0};
    std::latch committed(1), wake(1);
    std::thread sleeper([&] {
      instadump::dosync([&] { other.set(1); });  // leaves a floor in its slot
      committed.count_down();
      wake.wait();
      instadump::dosync([&] { other.set(2); });
    });
    committed.wait();
    for (long i = 0; i < 100'000; ++i) instadump::dosync([&] { r.set(tracked(i)); });
    CHECK(r.chain_length() <= 4);
    CHECK(tracked::live - base <= 6);
    wake.count_down();
    sleeper.join();
    CHECK(other.deref() == 2);
  }
  instadump::release_thread_pins();
  CHECK(tracked::live == base);
}

TEST_CASE("readers that start behind, sleep and catch up never see a reclaimed version", "[stm][memory]") {
  // Run under AddressSanitizer by scripts/test: a version freed while some
  // reader could still reach it is reported there. Readers mix every way a
  // read point is taken: reading first (the clock), writing first (the
  // thread's newest stamp, caught up when the shared ref is newer), reads
  // outside transactions (pins), and pauses that get their floors lifted.
  instadump::ref<std::vector<long>> shared{std::vector<long>(64, 0)};
  std::atomic<bool> done{false};
  std::atomic<long> torn{0}, reads{0};
  auto check = [&](const std::vector<long>& v) {
    for (long x : v) {
      if (x != v.front()) ++torn;
    }
    ++reads;
  };
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      instadump::ref<long> own{0};
      std::minstd_rand rng(static_cast<unsigned>(t + 1));
      while (!done.load()) {
        switch (rng() % 4) {
          case 0: instadump::dosync([&] { check(shared.deref()); }); break;
          case 1:
            instadump::dosync([&] {
              own.alter([](long v) { return v + 1; });
              check(shared.deref());
            });
            break;
          case 2: check(shared.deref()); break;
          default: std::this_thread::sleep_for(std::chrono::microseconds(rng() % 50));
        }
      }
      instadump::release_thread_pins();
    });
  }
  // Commit until the readers have done a good share of reading too.
  for (long i = 1; i <= 100'000 || (reads.load() < 10'000 && i < 20'000'000); ++i) {
    instadump::dosync([&] { shared.set(std::vector<long>(64, i)); });
  }
  done = true;
  for (auto& r : readers) r.join();
  CHECK(torn == 0);
  CHECK(reads >= 10'000);
  // With the readers gone, the next commits trim what they kept.
  instadump::dosync([&] { shared.set(std::vector<long>(64, -1)); });
  instadump::dosync([&] { shared.set(std::vector<long>(64, -2)); });
  CHECK(shared.chain_length() <= 3);
}

TEST_CASE("pinned handles outlive later commits and free on release", "[stm][memory]") {
  long base = tracked::live;
  instadump::ref<tracked> r{tracked(1)};
  {
    auto p = r.pin();
    for (long i = 0; i < 1000; ++i) instadump::dosync([&] { r.set(tracked(i)); });
    CHECK(p->n == 1);
  }
  instadump::dosync([&] { r.set(tracked(5)); });
  CHECK(tracked::live - base <= 4);
}

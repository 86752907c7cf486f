// Multi-threaded STM behaviour: atomicity, isolation, write skew, blocking
// retry, commute, fairness. Also run under ThreadSanitizer by scripts/test.
#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <barrier>
#include <chrono>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

import instadump;

namespace {

// Runs fn(i) on n threads and joins them.
void run_threads(int n, const std::function<void(int)>& fn) {
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) threads.emplace_back(fn, i);
  for (auto& t : threads) t.join();
}

}  // namespace

TEST_CASE("concurrent increments are exact", "[stm][concurrency]") {
  instadump::ref<long> counter{0};
  constexpr int threads = 4, per_thread = 100'000;
  run_threads(threads, [&](int) {
    for (int i = 0; i < per_thread; ++i) instadump::dosync([&] { counter.alter([](long v) { return v + 1; }); });
  });
  CHECK(counter.deref() == long{threads} * per_thread);
  CHECK(counter.stats().commits == std::uint64_t{threads} * per_thread);
}

TEST_CASE("commute loses no update", "[stm][concurrency]") {
  instadump::ref<long> counter{0};
  constexpr int threads = 4, per_thread = 50'000;
  std::atomic<long> in_tx_sum{0};
  run_threads(threads, [&](int) {
    for (int i = 0; i < per_thread; ++i) instadump::dosync([&] { counter.commute(std::plus<>{}, 1L); });
  });
  CHECK(counter.deref() == long{threads} * per_thread);
  CHECK(counter.stats().conflicts == 0);  // commute never makes a transaction retry
  (void)in_tx_sum;
}

TEST_CASE("bank transfers keep the total while readers check it", "[stm][concurrency]") {
  constexpr int accounts = 100;
  constexpr long initial = 1000;
  std::vector<std::unique_ptr<instadump::ref<long>>> bank;
  for (int i = 0; i < accounts; ++i) bank.push_back(std::make_unique<instadump::ref<long>>(initial));
  std::atomic<bool> done{false};
  std::atomic<long> bad_totals{0}, checks{0};

  std::thread reader([&] {
    while (!done.load()) {
      long total = instadump::dosync([&] {
        long sum = 0;
        for (auto& a : bank) sum += a->deref();
        return sum;
      });
      if (total != accounts * initial) ++bad_totals;
      ++checks;
    }
  });
  run_threads(3, [&](int seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> pick(0, accounts - 1), amount(1, 50);
    for (int i = 0; i < 30'000; ++i) {
      int from = pick(rng), to = pick(rng);
      long x = amount(rng);
      if (from == to) continue;
      instadump::dosync([&] {
        bank[from]->alter([x](long v) { return v - x; });
        bank[to]->alter([x](long v) { return v + x; });
      });
    }
  });
  done = true;
  reader.join();
  long total = 0;
  for (auto& a : bank) total += a->deref();
  CHECK(total == accounts * initial);
  CHECK(bad_totals == 0);
  CHECK(checks > 0);
}

// Two doctors are on call; each may leave if the other stays. Both decide at
// once from the same snapshot.
namespace {
struct write_skew_result {
  long a, b;
};
write_skew_result doctors_leave(bool use_ensure) {
  instadump::ref<long> alice{1}, bob{1};
  std::barrier both_read(2);
  auto leave = [&](instadump::ref<long>& me, instadump::ref<long>& other) {
    bool first_attempt = true;
    instadump::dosync([&] {
      long others = use_ensure ? other.ensure() : other.deref();
      long mine = me.deref();
      if (first_attempt) {
        first_attempt = false;
        both_read.arrive_and_wait();  // both have read before either commits
      }
      if (mine + others >= 2) me.set(0);
    });
  };
  std::thread t1([&] { leave(alice, bob); });
  std::thread t2([&] { leave(bob, alice); });
  t1.join();
  t2.join();
  return {alice.deref(), bob.deref()};
}
}  // namespace

TEST_CASE("write skew appears without ensure", "[stm][concurrency]") {
  auto r = doctors_leave(false);
  CHECK(r.a + r.b == 0);  // snapshot isolation lets both leave
}

TEST_CASE("ensure prevents write skew", "[stm][concurrency]") {
  for (int i = 0; i < 20; ++i) {
    auto r = doctors_leave(true);
    CHECK(r.a + r.b == 1);
  }
}

TEST_CASE("ensure does not livelock under symmetric contention", "[stm][concurrency]") {
  instadump::ref<long> a{0}, b{0};
  constexpr int iterations = 20'000;
  run_threads(2, [&](int id) {
    auto& mine = id == 0 ? a : b;
    auto& other = id == 0 ? b : a;
    for (int i = 0; i < iterations; ++i) {
      instadump::dosync([&] {
        other.ensure();
        mine.alter([](long v) { return v + 1; });
      });
    }
  });
  CHECK(a.deref() == iterations);
  CHECK(b.deref() == iterations);
}

TEST_CASE("retry blocks until a ref it read changes", "[stm][concurrency]") {
  instadump::ref<int> ready{0};
  instadump::ref<int> unrelated{0};
  std::atomic<int> attempts{0};
  std::thread waiter([&] {
    int got = instadump::dosync([&] {
      ++attempts;
      if (ready.deref() == 0) instadump::retry();
      return ready.deref();
    });
    CHECK(got == 42);
  });
  while (attempts.load() == 0) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  int before = attempts.load();
  instadump::dosync([&] { unrelated.set(1); });  // not read: must not wake it for good
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(attempts.load() == before);  // still blocked, not spinning
  instadump::dosync([&] { ready.set(42); });
  waiter.join();
  CHECK(attempts.load() == before + 1);
}

TEST_CASE("or_else waits on the union of both branches' reads", "[stm][concurrency]") {
  instadump::ref<int> left{0}, right{0};
  std::atomic<bool> started{false};
  std::thread taker([&] {
    int which = instadump::dosync([&] {
      started = true;
      return instadump::or_else(
          [&] {
            if (left.deref() == 0) instadump::retry();
            return 1;
          },
          [&] {
            if (right.deref() == 0) instadump::retry();
            return 2;
          });
    });
    CHECK(which == 2);
  });
  while (!started) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  instadump::dosync([&] { right.set(1); });  // read only by the second branch
  taker.join();
}

TEST_CASE("a producer/consumer queue built on retry delivers every item", "[stm][concurrency]") {
  instadump::ref<std::vector<int>> queue;
  constexpr int items = 2'000;
  long consumed_sum = 0;
  std::thread consumer([&] {
    for (int i = 0; i < items; ++i) {
      int item = instadump::dosync([&] {
        if (queue.deref().empty()) instadump::retry();
        int front = queue.deref().front();
        queue.alter([](const std::vector<int>& q) { return std::vector<int>(q.begin() + 1, q.end()); });
        return front;
      });
      consumed_sum += item;
    }
  });
  for (int i = 1; i <= items; ++i) {
    instadump::dosync([&] {
      queue.alter([i](std::vector<int> q) {
        q.push_back(i);
        return q;
      });
    });
  }
  consumer.join();
  CHECK(consumed_sum == long{items} * (items + 1) / 2);
}

TEST_CASE("an old transaction is not starved by a stream of young ones", "[stm][concurrency]") {
  instadump::ref<long> hot{0};
  std::atomic<bool> stop{false};
  std::thread hammer1([&] {
    while (!stop) instadump::dosync([&] { hot.alter([](long v) { return v + 1; }); });
  });
  std::thread hammer2([&] {
    while (!stop) instadump::dosync([&] { hot.alter([](long v) { return v + 1; }); });
  });
  // A slow transaction on the same ref: without age priority it would lose
  // nearly every race. With it, it must get through within a small limit.
  instadump::transaction_options options;
  options.max_attempts = 100;
  options.name = "slow";
  for (int round = 0; round < 5; ++round) {
    CHECK_NOTHROW(instadump::dosync(options, [&] {
      long v = hot.deref();
      std::this_thread::sleep_for(std::chrono::microseconds(500));
      hot.set(v + 1000);
    }));
  }
  stop = true;
  hammer1.join();
  hammer2.join();
}

TEST_CASE("long read-only transactions never retry and see one snapshot", "[stm][concurrency]") {
  constexpr int n = 50;
  std::vector<std::unique_ptr<instadump::ref<long>>> refs;
  for (int i = 0; i < n; ++i) refs.push_back(std::make_unique<instadump::ref<long>>(0));
  std::atomic<bool> stop{false};
  std::thread writer([&] {  // keeps all refs equal
    while (!stop) {
      instadump::dosync([&] {
        for (auto& r : refs) r->alter([](long v) { return v + 1; });
      });
    }
  });
  for (int round = 0; round < 20; ++round) {
    int attempts = 0;
    bool consistent = instadump::dosync([&] {
      ++attempts;
      long first = refs[0]->deref();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // writers commit meanwhile
      for (auto& r : refs) {
        if (r->deref() != first) return false;
      }
      return true;
    });
    CHECK(consistent);
    CHECK(attempts == 1);
  }
  stop = true;
  writer.join();
}

TEST_CASE("deref outside transactions is safe while others commit", "[stm][concurrency]") {
  instadump::ref<std::vector<long>> r{std::vector<long>(64, 0)};
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (long i = 1; i <= 20'000; ++i) instadump::dosync([&] { r.set(std::vector<long>(64, i)); });
    stop = true;
  });
  long bad = 0;
  while (!stop) {
    const std::vector<long>& v = r.deref();
    if (v.front() != v.back()) ++bad;  // a torn or freed value would show here (and under ASan/TSan)
    auto p = r.pin();
    if (p->front() != p->back()) ++bad;
  }
  writer.join();
  CHECK(bad == 0);
}

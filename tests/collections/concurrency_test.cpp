// The collections shared between threads (run under TSan): readers iterate
// old versions while writers make new ones, through a ref<pmap> and through
// plain copies; the reference counts of shared nodes are raced on by
// copies, changes and destruction on every thread.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <random>
#include <thread>
#include <vector>

import instadump;

namespace {

using map_t = instadump::pmap<std::int64_t, std::int64_t>;
constexpr std::int64_t stride = 1024;  // every value is its key plus a multiple of this

// Catch2's assertions are not thread-safe: threads count what they find
// wrong here, and the test checks the count.
std::atomic<long> failures{0};
void expect(bool ok) {
  if (!ok) ++failures;
}

map_t starting_map(std::int64_t n) {
  std::map<std::int64_t, std::int64_t> m;
  for (std::int64_t k = 0; k < n; ++k) m[k * 3] = k * 3;
  return map_t::from_sorted(m.begin(), m.end());
}

// A sum over the map that also checks order and the value invariant; the
// same map always gives the same sum.
std::int64_t checked_sum(const map_t& m) {
  std::int64_t sum = 0, count = 0, last = -1;
  for (const auto& [k, v] : m) {
    expect(k > last);
    expect((v - k) % stride == 0);
    last = k;
    sum += k * 31 + v;
    ++count;
  }
  expect(count == static_cast<std::int64_t>(m.size()));
  return sum;
}

}  // namespace

TEST_CASE("readers iterate versions of a ref<pmap> while writers alter and commute it", "[collections][concurrency]") {
  instadump::ref<map_t> r{starting_map(20'000)};
  std::atomic<bool> writing{true};
  std::atomic<long> reads{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      while (reads.load() < 2) std::this_thread::yield();  // the readers are under way
      std::mt19937_64 rng(w);
      for (int i = 0; i < 3'000; ++i) {
        std::int64_t k = static_cast<std::int64_t>(rng() % 70'000);
        if (i % 2 == 0) {
          instadump::dosync([&] { r.alter([&](const map_t& m) { return m.set(k, k + stride * i); }); });
        } else if (i % 5 == 1) {
          instadump::dosync([&] { r.alter([&](const map_t& m) { return m.erase(k); }); });
        } else {
          instadump::dosync([&] {
            r.commute([k](const map_t& m) { return m.update(k, [k](std::int64_t v) { return v == 0 ? k : v + stride; }); });
          });
        }
      }
      instadump::release_thread_pins();
    });
  }
  for (int reader = 0; reader < 2; ++reader) {
    threads.emplace_back([&] {
      std::vector<std::pair<instadump::pinned<map_t>, std::int64_t>> kept;
      while (writing.load()) {
        instadump::pinned<map_t> p = r.pin();
        std::int64_t sum = checked_sum(*p);
        ++reads;
        if (kept.size() < 8) kept.emplace_back(p, sum);
        // A copy of a version outside the ref, changed on this thread.
        map_t mine = *p;
        mine = mine.set(-1, -1);
        expect(mine.size() == p->size() + 1);
      }
      for (const auto& [old, sum] : kept) expect(checked_sum(*old) == sum);  // unchanged since
      instadump::release_thread_pins();
    });
  }
  threads[0].join();
  threads[1].join();
  writing = false;
  for (std::size_t i = 2; i < threads.size(); ++i) threads[i].join();
  checked_sum(r.deref());
  instadump::release_thread_pins();
  CHECK(failures == 0);
  CHECK(reads > 2);
}

TEST_CASE("threads change copies of one shared pmap, pset and pvector at once", "[collections][concurrency]") {
  const map_t base = starting_map(30'000);
  const std::int64_t base_sum = checked_sum(base);
  instadump::pset<std::int64_t> set_base;
  instadump::pvector<std::int64_t> vec_base;
  {
    auto s = set_base.transient();
    auto v = vec_base.transient();
    for (std::int64_t i = 0; i < 30'000; ++i) {
      s.insert(i * 2);
      v.push_back(i);
    }
    set_base = std::move(s).persistent();
    vec_base = std::move(v).persistent();
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(100 + t);
      map_t m = base;
      auto s = set_base;
      auto v = vec_base;
      for (int i = 0; i < 2'000; ++i) {
        std::int64_t k = static_cast<std::int64_t>(rng() % 90'000);
        m = i % 3 ? m.set(k, k + stride) : m.erase(k);
        s = i % 2 ? s.insert(k) : s.erase(k * 2);
        v = i % 4 ? v.set(static_cast<std::size_t>(k) % v.size(), -k) : v.push_back(k);
        if (i % 500 == 0) {  // a transient over the shared nodes, on every thread at once
          auto tr = base.transient();
          for (int j = 0; j < 200; ++j) tr.set(static_cast<std::int64_t>(rng() % 90'000), 0);
          map_t built = std::move(tr).persistent();
          expect(built.size() >= base.size());
        }
      }
      checked_sum(m);
      expect(instadump::detail::pset_access<std::int64_t>::check(s).empty());
      expect(instadump::detail::pvector_access<std::int64_t>::check(v).empty());
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures == 0);
  CHECK(checked_sum(base) == base_sum);
  CHECK(set_base.size() == 30'000);
  for (std::int64_t i = 0; i < 30'000; i += 997) CHECK(vec_base[static_cast<std::size_t>(i)] == i);
}

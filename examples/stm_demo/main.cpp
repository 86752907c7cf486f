// A small tour of the STM: a bank whose total never changes, however many
// threads move money around, plus validators, watches and blocking retry().
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <thread>
#include <vector>

import instadump;

namespace bank {
instadump::ref<long> transfers_done{0};
}

int main() {
  constexpr int accounts = 10;
  std::vector<std::unique_ptr<instadump::ref<long>>> balance;
  for (int i = 0; i < accounts; ++i) {
    balance.push_back(std::make_unique<instadump::ref<long>>(10'000));
    balance.back()->set_validator([](const long& v) { return v >= 0; });  // no overdrafts
  }
  bank::transfers_done.add_watch("progress", [](const long&, const long& now) {
    if (now % 20'000 == 0) std::printf("  %ld transfers committed\n", now);
  });

  std::printf("4 threads move money between %d accounts...\n", accounts);
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < 20'000; ++i) {
        int from = rng() % accounts, to = rng() % accounts;
        long amount = rng() % 100;
        try {
          instadump::dosync([&] {
            balance[from]->alter([=](long v) { return v - amount; });
            balance[to]->alter([=](long v) { return v + amount; });
            bank::transfers_done.commute(std::plus<>{}, 1L);
          });
        } catch (const instadump::validation_failed&) {
          // An overdraft: the transfer is refused and nothing changed.
        }
      }
    });
  }
  // Meanwhile, a transaction that waits for the work to finish.
  long seen = instadump::dosync([&] {
    if (bank::transfers_done.deref() < 50'000) instadump::retry();  // sleeps until it changes
    return bank::transfers_done.deref();
  });
  std::printf("retry() woke up after %ld transfers\n", seen);
  for (auto& w : workers) w.join();

  long total = instadump::dosync([&] {
    long sum = 0;
    for (auto& b : balance) sum += b->deref();
    return sum;
  });
  std::printf("%ld transfers; total is still %ld\n", bank::transfers_done.deref(), total);
  return total == accounts * 10'000 ? 0 : 1;
}

// Semantics of single-threaded STM operations, including their error paths.
#include <catch2/catch.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

import instadump;

namespace {

instadump::ref<int> global_counter{150};
constinit instadump::ref<int> constant_global{7};
instadump::ref<std::string> global_text{"abc"};

struct point {
  int x = 0;
  int y = 0;
  bool operator==(const point&) const = default;
};

}  // namespace

TEST_CASE("globals hold their defaults", "[stm]") {
  CHECK(global_counter.deref() == 150);
  CHECK(constant_global.deref() == 7);
  CHECK(global_text.deref() == "abc");
}

TEST_CASE("deref is usable as a value", "[stm]") {
  instadump::ref<point> p{point{1, 2}};
  CHECK(p.deref().x == 1);
  auto copy = p.deref();
  CHECK(copy == point{1, 2});
  int y = p.deref().y;
  CHECK(y == 2);
}

TEST_CASE("dosync returns the body's result and commits writes", "[stm]") {
  instadump::ref<int> r{1};
  int n = instadump::dosync([&] {
    r.alter([](int v) { return v + 1; });
    return r.deref();
  });
  CHECK(n == 2);
  CHECK(r.deref() == 2);
  instadump::dosync([&] { r.set(0); });
  CHECK(r.deref() == 0);
}

TEST_CASE("alter passes extra arguments like Clojure's alter", "[stm]") {
  instadump::ref<int> r{10};
  instadump::dosync([&] { r.alter(std::plus<>{}, 5); });
  CHECK(r.deref() == 15);
  instadump::dosync([&] { r.alter([](int v, int a, int b) { return v * a + b; }, 2, 1); });
  CHECK(r.deref() == 31);
}

TEST_CASE("commute applies its function and returns the in-transaction value", "[stm]") {
  instadump::ref<int> r{1};
  int seen = instadump::dosync([&] { return r.commute(std::plus<>{}, 5); });
  CHECK(seen == 6);
  CHECK(r.deref() == 6);
}

TEST_CASE("writes outside a transaction throw no_transaction", "[stm][errors]") {
  instadump::ref<int> r{1};
  CHECK_THROWS_AS(r.set(2), instadump::no_transaction);
  CHECK_THROWS_AS(r.alter([](int v) { return v; }), instadump::no_transaction);
  CHECK_THROWS_AS(r.commute([](int v) { return v; }), instadump::no_transaction);
  CHECK_THROWS_AS(r.ensure(), instadump::no_transaction);
  CHECK_THROWS_AS(instadump::retry(), instadump::no_transaction);
  CHECK_THROWS_AS(instadump::after_commit([] {}), instadump::no_transaction);
  CHECK_THROWS_WITH(r.set(2), Catch::Contains("dosync"));
  CHECK(r.deref() == 1);
}

TEST_CASE("a transaction sees its own writes and a stable snapshot", "[stm]") {
  instadump::ref<int> r{1};
  instadump::dosync([&] {
    const int& before = r.deref();
    CHECK(before == 1);
    r.set(5);
    CHECK(r.deref() == 5);
    r.alter([](int v) { return v * 2; });
    CHECK(r.deref() == 10);
  });
  CHECK(r.deref() == 10);
}

TEST_CASE("an exception in the body changes nothing", "[stm][errors]") {
  instadump::ref<int> a{1}, b{2};
  bool ran_after_commit = false;
  CHECK_THROWS_AS(instadump::dosync([&] {
                    a.set(100);
                    b.set(200);
                    instadump::after_commit([&] { ran_after_commit = true; });
                    throw std::runtime_error("boom");
                  }),
                  std::runtime_error);
  CHECK(a.deref() == 1);
  CHECK(b.deref() == 2);
  CHECK_FALSE(ran_after_commit);
}

TEST_CASE("nested dosync joins the outer transaction", "[stm]") {
  instadump::ref<int> r{0};
  CHECK_THROWS(instadump::dosync([&] {
    instadump::dosync([&] { r.set(1); });
    CHECK(r.deref() == 1);
    throw std::runtime_error("abort outer");
  }));
  CHECK(r.deref() == 0);  // the inner write was part of the aborted outer transaction
}

TEST_CASE("set after commute is refused", "[stm][errors]") {
  instadump::ref<int> r{0};
  CHECK_THROWS_AS(instadump::dosync([&] {
                    r.commute(std::plus<>{}, 1);
                    r.set(3);
                  }),
                  instadump::illegal_transaction_state);
  CHECK(r.deref() == 0);
}

TEST_CASE("validators reject bad commits and change nothing", "[stm][errors]") {
  instadump::ref<int> r{5}, other{0};
  r.set_validator([](const int& v) { return v >= 0; });
  CHECK_THROWS_AS(instadump::dosync([&] {
                    other.set(1);
                    r.set(-1);
                  }),
                  instadump::validation_failed);
  CHECK(r.deref() == 5);
  CHECK(other.deref() == 0);
  instadump::dosync([&] { r.set(3); });
  CHECK(r.deref() == 3);
  // A validator the current value already fails is refused.
  CHECK_THROWS_AS(r.set_validator([](const int& v) { return v > 100; }), instadump::validation_failed);
  instadump::dosync([&] { r.set(0); });  // the old validator is still in place
  CHECK_THROWS_AS(instadump::dosync([&] { r.set(-5); }), instadump::validation_failed);
  r.set_validator(nullptr);
  instadump::dosync([&] { r.set(-5); });
  CHECK(r.deref() == -5);
}

TEST_CASE("validators also check commuted values", "[stm][errors]") {
  instadump::ref<int> r{0};
  r.set_validator([](const int& v) { return v < 2; });
  instadump::dosync([&] { r.commute(std::plus<>{}, 1); });
  CHECK_THROWS_AS(instadump::dosync([&] { r.commute(std::plus<>{}, 1); }), instadump::validation_failed);
  CHECK(r.deref() == 1);
}

TEST_CASE("watches see old and new values after commit", "[stm]") {
  instadump::ref<int> r{1};
  std::vector<std::pair<int, int>> seen;
  r.add_watch("log", [&](const int& o, const int& n) {
    CHECK_FALSE(instadump::in_transaction());
    seen.emplace_back(o, n);
  });
  instadump::dosync([&] { r.set(2); });
  instadump::dosync([&] { r.alter([](int v) { return v + 10; }); });
  REQUIRE(seen.size() == 2);
  CHECK(seen[0] == std::pair{1, 2});
  CHECK(seen[1] == std::pair{2, 12});
  r.add_watch("log", [&](const int&, const int&) {});  // same key replaces
  instadump::dosync([&] { r.set(3); });
  CHECK(seen.size() == 2);
  CHECK(r.remove_watch("log"));
  CHECK_FALSE(r.remove_watch("log"));
}

TEST_CASE("after_commit actions run once, after commit, outside the transaction", "[stm]") {
  instadump::ref<int> r{0};
  int runs = 0;
  instadump::dosync([&] {
    r.set(1);
    instadump::after_commit([&] {
      ++runs;
      CHECK_FALSE(instadump::in_transaction());
      CHECK(r.deref() == 1);
      instadump::dosync([&] { r.set(2); });  // may start its own transaction
    });
  });
  CHECK(runs == 1);
  CHECK(r.deref() == 2);
}

TEST_CASE("a throwing after_commit action does not undo the commit", "[stm][errors]") {
  instadump::ref<int> r{0};
  int second_ran = 0;
  CHECK_THROWS_WITH(instadump::dosync([&] {
                      r.set(1);
                      instadump::after_commit([] { throw std::runtime_error("side effect failed"); });
                      instadump::after_commit([&] { ++second_ran; });
                    }),
                    "side effect failed");
  CHECK(r.deref() == 1);
  CHECK(second_ran == 1);
}

TEST_CASE("or_else runs the second branch when the first retries, undoing the first", "[stm]") {
  instadump::ref<int> r{0}, log{0};
  int result = instadump::or_else(
      [&] {
        log.set(99);
        r.set(1);
        instadump::retry();
        return 1;
      },
      [&] { return 2; });
  CHECK(result == 2);
  CHECK(r.deref() == 0);
  CHECK(log.deref() == 0);

  // Inside a transaction; the first branch's effects are kept when it succeeds.
  int got = instadump::dosync([&] {
    r.set(5);
    return instadump::or_else([&] { return r.alter([](int v) { return v + 1; }); }, [&] { return -1; });
  });
  CHECK(got == 6);
  CHECK(r.deref() == 6);
}

TEST_CASE("a transaction writing thousands of refs finds its own writes, in branches and in later transactions",
          "[stm]") {
  // Beyond a few writes a transaction indexes its write set; the index is
  // kept (emptied) from one transaction of the thread to the next.
  std::vector<std::unique_ptr<instadump::ref<int>>> refs;
  for (int i = 0; i < 3000; ++i) refs.push_back(std::make_unique<instadump::ref<int>>(-1));
  for (int round = 0; round < 3; ++round) {
    const int n = round == 1 ? 40 : 3000;  // a small set after a large one: no stale entries
    instadump::dosync([&] {
      for (int i = 0; i < n; ++i) refs[i]->set(i + round);
      for (int i = n - 1; i >= 0; --i) refs[i]->alter([](int v) { return v * 2; });  // found again
      for (int i = 0; i < n; ++i) REQUIRE(refs[i]->deref() == (i + round) * 2);
    });
    for (int i = 0; i < n; ++i) REQUIRE(refs[i]->deref() == (i + round) * 2);
  }
  // A branch that writes many refs and retries leaves nothing; the other
  // branch's writes join the parent's, which then finds them.
  const int before = refs[2999]->deref();
  instadump::dosync([&] {
    for (int i = 0; i < 100; ++i) refs[i]->set(7);
    instadump::or_else(
        [&] {
          for (int i = 0; i < 3000; ++i) refs[i]->set(-5);
          instadump::retry();
          return 0;
        },
        [&] {
          for (int i = 50; i < 2000; ++i) refs[i]->alter([](int v) { return v + 1; });
          return 0;
        });
    for (int i = 0; i < 2000; ++i) refs[i]->alter([](int v) { return v + 1; });
  });
  for (int i = 0; i < 50; ++i) REQUIRE(refs[i]->deref() == 8);
  for (int i = 50; i < 100; ++i) REQUIRE(refs[i]->deref() == 9);
  for (int i = 100; i < 2000; ++i) REQUIRE(refs[i]->deref() == (i + 2) * 2 + 2);
  CHECK(refs[2999]->deref() == before);

  // A transaction large enough that its index is freed afterwards, then
  // small and middling ones again.
  while (refs.size() < 40000) refs.push_back(std::make_unique<instadump::ref<int>>(0));
  for (int n : {40000, 20, 3000}) {
    instadump::dosync([&] {
      for (int i = 0; i < n; ++i) refs[i]->set(n);
      for (int i = 0; i < n; ++i) refs[i]->alter([](int v) { return v + 1; });
    });
    for (int i = 0; i < n; ++i) REQUIRE(refs[i]->deref() == n + 1);
  }
}

TEST_CASE("or_else undoes commutes, ensures and after_commit actions of a retried branch", "[stm]") {
  instadump::ref<int> r{0};
  int actions = 0;
  instadump::dosync([&] {
    r.commute(std::plus<>{}, 1);
    instadump::or_else(
        [&] {
          r.commute(std::plus<>{}, 100);
          instadump::after_commit([&] { actions += 100; });
          instadump::retry();
        },
        [&] { instadump::after_commit([&] { actions += 1; }); });
  });
  CHECK(r.deref() == 1);
  CHECK(actions == 1);
}

TEST_CASE("nested or_else follows Haskell's semantics", "[stm]") {
  instadump::ref<int> r{0};
  int which = instadump::dosync([&] {
    return instadump::or_else(
        [&] {
          return instadump::or_else(
              [&]() -> int {
                r.set(1);
                instadump::retry();
              },
              [&]() -> int {
                r.set(2);
                instadump::retry();
              });
        },
        [&] { return r.deref() == 0 ? 3 : -1; });  // both inner writes undone
  });
  CHECK(which == 3);
  CHECK(r.deref() == 0);
}

TEST_CASE("retry with nothing read refuses to block forever", "[stm][errors]") {
  CHECK_THROWS_WITH(instadump::dosync([] { instadump::retry(); }), Catch::Contains("block forever"));
}

TEST_CASE("pin keeps a version alive while the ref moves on", "[stm]") {
  instadump::ref<std::vector<int>> r{std::vector<int>(1000, 7)};
  instadump::pinned<std::vector<int>> p = r.pin();
  auto p2 = p;  // O(1) copy
  instadump::dosync([&] { r.set({1, 2, 3}); });
  instadump::dosync([&] { r.set({4}); });
  CHECK(p->size() == 1000);
  CHECK(p2.get()[999] == 7);
  CHECK(r.deref().size() == 1);
  CHECK(r.deref() == std::vector<int>{4});
}

TEST_CASE("deref outside a transaction stays valid across the documented window", "[stm]") {
  instadump::ref<std::string> r{std::string(100, 'a')};
  const std::string& first = r.deref();
  instadump::dosync([&] { r.set(std::string(100, 'b')); });
  const std::string& second = r.deref();
  CHECK(first == std::string(100, 'a'));  // still pinned: only one newer deref so far
  CHECK(second == std::string(100, 'b'));
  CHECK(r.deref() == r.deref());
}

TEST_CASE("deref outside a transaction over thousands of refs, fresh and changed", "[stm]") {
  // More refs than any initial pin table holds, read in an order that makes
  // masked indexes collide, some never read before (no version yet).
  std::vector<std::unique_ptr<instadump::ref<long>>> refs;
  for (long i = 0; i < 5000; ++i) refs.push_back(std::make_unique<instadump::ref<long>>(i));
  for (int round = 0; round < 3; ++round) {
    for (long i = 4999; i >= 0; i -= 7) CHECK(refs[i]->deref() == i + round * 1000);
    for (long i = 0; i < 5000; ++i) CHECK(refs[i]->deref() == i + round * 1000);
    instadump::dosync([&] {
      for (auto& r : refs) r->alter([](long v) { return v + 1000; });
    });
  }
  // Inside a transaction deref reads through the transaction, also for refs
  // this thread pins from outside reads.
  instadump::dosync([&] {
    refs[3]->set(-3);
    CHECK(refs[3]->deref() == -3);
    CHECK(refs[4]->deref() == 3004);
  });
  CHECK(refs[3]->deref() == -3);
  instadump::release_thread_pins();
  CHECK(refs[4]->deref() == 3004);
}

TEST_CASE("a deref's reference stays valid while other refs take its pin cache entry", "[stm]") {
  // 5,000 refs share the thread's 2,048-entry pin cache: most entries are
  // taken back and forth. Each first reference must survive reads of its
  // ref's one newer version and of all the other refs (pins are dropped
  // only when a newer version is read twice more; ASan would see a freed
  // string).
  constexpr int n = 5000;
  auto text = [](int i, char c) { return std::string(40, c) + std::to_string(i); };
  std::vector<std::unique_ptr<instadump::ref<std::string>>> refs;
  for (int i = 0; i < n; ++i) refs.push_back(std::make_unique<instadump::ref<std::string>>(text(i, 'a')));
  std::vector<const std::string*> first(n);
  for (int i = 0; i < n; ++i) first[i] = &refs[i]->deref();
  instadump::dosync([&] {
    for (int i = 0; i < n; ++i) refs[i]->set(text(i, 'b'));
  });
  int wrong = 0;
  for (int round = 0; round < 2; ++round) {
    for (int i = n - 1; i >= 0; --i) wrong += refs[i]->deref() != text(i, 'b');
  }
  for (int i = 0; i < n; ++i) wrong += *first[i] != text(i, 'a');
  CHECK(wrong == 0);
  instadump::release_thread_pins();
  for (int i = 0; i < n; i += 97) CHECK(refs[i]->deref() == text(i, 'b'));
}

TEST_CASE("threads that read and write outside their own refs exit cleanly", "[stm]") {
  // Versions allocated on one thread are freed on another, and each thread's
  // pins and node caches are released when it exits (LeakSanitizer checks).
  instadump::ref<std::string> shared{std::string("start")};
  std::atomic<int> empty_reads{0};  // Catch's CHECK is not thread-safe
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        instadump::dosync([&] { shared.set(std::to_string(t) + ":" + std::to_string(i)); });
        if (shared.deref().empty()) ++empty_reads;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(empty_reads == 0);
  CHECK(shared.deref().find(":1999") != std::string::npos);
}

TEST_CASE("retry limit ends in an error that names the ref", "[stm][errors]") {
  instadump::ref<int> r{0};
  r.set_name("test::hot");
  instadump::transaction_options options;
  options.max_attempts = 3;
  options.name = "stubborn";
  int attempts = 0;
  try {
    instadump::dosync(options, [&] {
      ++attempts;
      r.deref();
      // Another thread commits in between: simulate with a nested commit from
      // a helper thread-free path by committing in a separate transaction.
      std::thread([&] { instadump::dosync([&] { r.alter([](int v) { return v + 1; }); }); }).join();
      r.set(-1);
    });
    FAIL("expected retry_limit_exceeded");
  } catch (const instadump::retry_limit_exceeded& e) {
    CHECK(attempts == 3);
    CHECK(e.attempts() == 3);
    CHECK_THAT(e.what(), Catch::Contains("test::hot") && Catch::Contains("stubborn"));
  }
  CHECK(r.deref() == 3);
  CHECK(r.stats().conflicts >= 3);  // plus the helper's yield to the older claim
}

TEST_CASE("stats count commits", "[stm]") {
  instadump::ref<int> r{0};
  for (int i = 0; i < 5; ++i) instadump::dosync([&] { r.alter([](int v) { return v + 1; }); });
  CHECK(r.stats().commits == 5);
  r.reset_stats();
  CHECK(r.stats().commits == 0);
}

TEST_CASE("stats count the restarts of transactions that wrote a ref, whatever restarted them", "[stm]") {
  instadump::ref<long> written{0}, contended{0}, gate{0};
  // Commits `r` on another thread while the calling transaction is open.
  auto commit_elsewhere = [](instadump::ref<long>& r) {
    std::thread([&] { instadump::dosync([&] { r.alter([](long v) { return v + 1; }); }); }).join();
  };
  int attempts = 0;

  SECTION("a conflict at commit on another ref it wrote") {
    instadump::dosync([&] {
      ++attempts;
      written.set(attempts);
      contended.alter([](long v) { return v + 10; });
      if (attempts == 1) commit_elsewhere(contended);
    });
    CHECK(written.stats().retries == 1);
    CHECK(written.stats().conflicts == 0);
    CHECK(contended.stats().retries == 1);
    CHECK(contended.stats().conflicts == 1);
  }

  SECTION("a conflict inside an or_else branch that wrote it") {
    instadump::dosync([&] {
      ++attempts;
      instadump::or_else(
          [&] {
            written.set(attempts);
            const long seen = contended.deref();
            if (attempts == 1) commit_elsewhere(contended);
            contended.set(seen + 10);  // changed since it was read: restarts the transaction
          },
          [] {});
    });
    CHECK(written.stats().retries == 1);
    CHECK(contended.stats().conflicts == 1);
    CHECK(contended.stats().retries == 0);  // not written yet when the attempt failed
  }

  SECTION("retry() after writing it") {
    instadump::dosync([&] {
      ++attempts;
      written.set(attempts);
      if (gate.deref() == 0) {
        commit_elsewhere(gate);  // what retry() waits for has happened already
        instadump::retry();
      }
    });
    CHECK(written.stats().retries == 1);
    CHECK(written.stats().conflicts == 0);
  }

  CHECK(attempts == 2);
  CHECK(written.deref() == 2);
  written.reset_stats();
  CHECK(written.stats().retries == 0);
}

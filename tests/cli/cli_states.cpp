// The program whose state directories the `instadump` tool's tests read
// (tests/cli/CMakeLists.txt): states of every kind the tool must print
// losslessly -- 64-bit integers beyond 2^53, NaN and infinities, Text with
// NUL bytes and bytes that are not UTF-8, Data, enums, optionals, variants,
// maps, a pmap, a pvector with a trie and a tail, a struct with a pmap
// member -- and modes that write them in the ways the tests need.
//
//   cli_states golden DIR     two snapshots with fixed contents (1, then 2)
//   cli_states loop DIR       saves until killed; in every snapshot
//                             loop_a == loop_b == loop_list's size == every element
//   cli_states check DIR      loads DIR (setup); exit 0 when its loop states
//                             are one whole snapshot of `loop`, 1 otherwise
//   cli_states big DIR N      one snapshot with `numbers` of N records
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

import instadump;

namespace clitest {

enum class color { red, green, blue };

struct item {
  std::string name;
  std::int64_t qty = 0;
  std::optional<double> price;
  std::vector<std::string> tags;
};

struct floats {
  double nan = 0;
  double inf = 0;
  double neg_inf = 0;
  double third = 0;
  double neg_zero = 0;
  float single = 0;
};

struct record {
  std::int64_t id = 0;
  double score = 0;
  std::string name;
};

[[instadump::state]] instadump::ref<int> visits{0};
[[instadump::state]] instadump::ref<std::int64_t> big_signed{0};
[[instadump::state]] instadump::ref<std::uint64_t> big_unsigned{0};
[[instadump::state]] instadump::ref<floats> numbers_special;
[[instadump::state]] instadump::ref<std::string> motto;
[[instadump::state]] instadump::ref<std::string> not_utf8;
[[instadump::state]] instadump::ref<std::vector<std::byte>> blob;
[[instadump::state]] instadump::ref<color> paint{color::red};
[[instadump::state]] instadump::ref<std::map<std::string, item>> stock;
[[instadump::state]] instadump::ref<std::variant<std::monostate, int, std::string>> choice;
[[instadump::state]] instadump::ref<instadump::pmap<std::int64_t, item>> players;
// 40 elements, then 41: one full trie leaf and a tail, each its own chunk.
[[instadump::state]] instadump::ref<instadump::pvector<std::int64_t>> series;
[[instadump::state]] instadump::ref<std::int64_t> loop_a{0};
[[instadump::state]] instadump::ref<std::int64_t> loop_b{0};
[[instadump::state]] instadump::ref<std::vector<std::int64_t>> loop_list;
[[instadump::state]] instadump::ref<std::vector<record>> numbers;

// A struct state whose pmap member is stored node by node (and saves deltas).
struct squad {
  std::int64_t round = 0;
  instadump::pmap<std::int64_t, item> roster;
};
[[instadump::state]] instadump::ref<squad> team;

}  // namespace clitest

namespace {

using namespace clitest;

void write_golden() {
  instadump::dosync([] {
    visits.set(7);
    big_signed.set(-(std::int64_t{1} << 62) - 3);
    big_unsigned.set(std::numeric_limits<std::uint64_t>::max());
    numbers_special.set(floats{std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                               -std::numeric_limits<double>::infinity(), 1.0 / 3, -0.0, 0.1f});
    motto.set(std::string("line one\nhe said \"hi\"\0tail", 26));
    not_utf8.set(std::string("\xff\xfe ok", 5));
    blob.set({std::byte{0}, std::byte{1}, std::byte{0x7f}, std::byte{0xff}});
    paint.set(color::green);
    stock.set({{"apple", item{"Apple", 3, 1.25, {"red", "fruit"}}}, {"pear", item{"Pear", 5, std::nullopt, {}}}});
    choice.set(std::string("second"));
    auto t = instadump::pmap<std::int64_t, item>().transient();
    for (std::int64_t i = 1; i <= 3; ++i) t.set(i * 10, item{"player " + std::to_string(i), i, std::nullopt, {}});
    players.set(std::move(t).persistent());
    auto s = instadump::pvector<std::int64_t>().transient();
    for (std::int64_t i = 1; i <= 40; ++i) s.push_back(i);
    series.set(std::move(s).persistent());
  });
  instadump::save_all();
  instadump::dosync([] {
    visits.set(8);
    paint.set(color::blue);
    stock.alter([](auto s) {
      s.erase("pear");
      s["plum"] = item{"Plum", 9, 0.5, {"blue"}};
      return s;
    });
    choice.set(42);
    players.alter([](const auto& m) { return m.set(20, item{"player two", 22, 2.5, {"renamed"}}); });
    series.alter([](const auto& v) { return v.set(2, -3).push_back(41); });
  });
  instadump::save_all();
}

[[noreturn]] void write_loop() {
  for (std::int64_t n = 1;; ++n) {
    instadump::dosync([&] {
      loop_a.set(n);
      loop_b.set(n);
      loop_list.set(std::vector<std::int64_t>(static_cast<std::size_t>(n % 64), n));
    });
    instadump::save_all();
  }
}

int check_loop() {
  const std::int64_t a = loop_a.deref();
  const std::vector<std::int64_t>& list = loop_list.deref();
  bool whole = loop_b.deref() == a && list.size() == static_cast<std::size_t>(a % 64);
  for (std::int64_t v : list) whole = whole && v == a;
  std::printf("loop_a = %lld, whole = %s\n", static_cast<long long>(a), whole ? "yes" : "no");
  return whole ? 0 : 1;
}

void write_big(std::size_t n) {
  std::vector<record> all(n);
  for (std::size_t i = 0; i < n; ++i) {
    all[i] = record{static_cast<std::int64_t>(i), static_cast<double>(i) / 7, "record " + std::to_string(i)};
  }
  instadump::dosync([&] { numbers.set(std::move(all)); });
  instadump::save_all();
}

// The players map the "deltas" and "final" modes end with: 2,000 entries,
// then some set anew, erased, added before, between and after the others,
// an added one erased again, an erased one set again.
using player_map = instadump::pmap<std::int64_t, item>;
player_map first_players() {
  auto t = player_map().transient();
  for (std::int64_t i = 1; i <= 2'000; ++i) t.set(i * 10, item{"player " + std::to_string(i), i, std::nullopt, {}});
  return std::move(t).persistent();
}
player_map changed_once(const player_map& m) {
  return m.set(50, item{"five", 5, 0.5, {"renamed"}}).erase(100).set(55, item{"between", 55, std::nullopt, {}})
      .set(999'999, item{"last", 1, std::nullopt, {}}).set(-5, item{"first", 2, std::nullopt, {"x"}});
}
player_map changed_twice(const player_map& m) {
  return m.erase(55).set(100, item{"back", 100, 1.0, {}}).set(60, item{"sixty", 6, std::nullopt, {}});
}

// Saves the players map, and the team's roster, three times: its tree,
// then two changes (saved as deltas on it).
void write_deltas() {
  player_map m = first_players();
  for (int step = 0; step < 3; ++step) {
    if (step == 1) m = changed_once(m);
    if (step == 2) m = changed_twice(m);
    instadump::dosync([&] {
      players.set(m);
      team.set(squad{2, m});
    });
    instadump::save_all();
  }
}

// Saves the maps write_deltas ends with, once: trees only.
void write_final() {
  instadump::dosync([] {
    players.set(changed_twice(changed_once(first_players())));
    team.set(squad{2, players.deref()});
  });
  instadump::save_all();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: cli_states golden|loop|check|big|deltas|final DIR [N]\n");
    return 2;
  }
  const std::string_view mode = argv[1];
  instadump::setup(argv[2]);
  if (mode == "golden") {
    write_golden();
  } else if (mode == "loop") {
    write_loop();
  } else if (mode == "deltas") {
    write_deltas();
  } else if (mode == "final") {
    write_final();
  } else if (mode == "check") {
    return check_loop();
  } else if (mode == "big" && argc == 4) {
    write_big(std::strtoull(argv[3], nullptr, 10));
  } else {
    std::fprintf(stderr, "cli_states: unknown mode %s\n", argv[1]);
    return 2;
  }
  return 0;
}

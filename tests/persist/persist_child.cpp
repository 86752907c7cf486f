// A small program the process tests run as a child: it saves, loads, or saves
// in a loop until it is killed, against a snapshot directory.
//
//   persist_child save <dir> <visits> <name>   setup, set both refs, save_all; prints "saved <id>"
//   persist_child autosave-exit <dir> <visits> <name>
//                                              setup with autosave (an hourly timer), set both refs,
//                                              return from main: only the save at exit stores them
//   persist_child print <dir>                  setup; prints "<visits> <name>"
//   persist_child crash-loop <dir>             saves generation after generation, printing
//                                              "saved <generation>" after each durable save
//   persist_child check <dir>                  setup; prints "generation <g>" if all refs agree,
//                                              exits 3 if they do not
//   persist_child hold <dir>                   setup, prints "ready", sleeps until killed
//   persist_child chunked-loop <dir>           changes a few entries of a 40,000-entry pmap state
//                                              (saved node by node, then as deltas on that tree,
//                                              folded into a new tree every 65th save) per
//                                              generation and saves,
//                                              printing "saved <generation>" after each durable
//                                              save; every 5th also changes a 1.5 MB text, so
//                                              that save is too big for the journal (direct)
//   persist_child chunked-check <dir>          setup; prints "generation <g>" if the map and the
//                                              text are those of generation g, exits 3 if not
//   persist_child chunked-journal <dir>        holds the journal's applier, changes one
//                                              generation's entries, saves (journaled), prints
//                                              "saved <generation>", sleeps until killed
//   persist_child read-loop <dir> <generation> a read-only session: reload_all() until it sees
//                                              <generation> (crash-loop's), checking every load
//                                              is one whole generation and none goes back;
//                                              prints "read <generation> after <loads> loads",
//                                              exits 3 on a torn or older load
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "storage/test_hooks.h"
#include "test_state.h"

import instadump;

namespace shop {
instadump::ref<long> visits{150};
instadump::ref<std::string> name{"abc"};
}  // namespace shop

namespace gen {
instadump::ref<long> counters[6];
instadump::ref<std::string> text{""};
}  // namespace gen

namespace {

instadump::state_registration<long> visits_reg(shop::visits, "shop::visits", test_state::int64_schema,
                                               test_state::long_codec);
instadump::state_registration<std::string> name_reg(shop::name, "shop::name", test_state::text_schema,
                                                    test_state::text_codec);
#define GEN_REG(i)                                                                                            \
  instadump::state_registration<long> gen_reg##i(gen::counters[i], "gen::counter" #i, test_state::int64_schema, \
                                                 test_state::long_codec);
GEN_REG(0)
GEN_REG(1)
GEN_REG(2)
GEN_REG(3)
GEN_REG(4)
GEN_REG(5)
instadump::state_registration<std::string> text_reg(gen::text, "gen::text", test_state::text_schema,
                                                    test_state::text_codec);

// The chunked modes' states (registered only in those modes: the other
// modes' snapshots stay as they were).
instadump::ref<test_state::int64_map> big_map_ref{};
instadump::ref<std::string> big_text_ref{""};

// The text value of generation g: its length varies so that values move
// around in the file between generations.
std::string text_for(long g) { return std::string(static_cast<std::size_t>(100 + (g * 7919) % 20000), 'a' + g % 26) + std::to_string(g); }

int crash_loop() {
  long g = gen::counters[0].deref();
  for (;;) {
    ++g;
    instadump::dosync([&] {
      for (auto& c : gen::counters) c.set(g);
      gen::text.set(text_for(g));
    });
    instadump::save_all();
    std::printf("saved %ld\n", g);
    std::fflush(stdout);
  }
}

// The generation the refs hold, or -1 (printing why) when they are not one
// whole generation.
long whole_generation() {
  const long g = gen::counters[0].deref();
  for (auto& c : gen::counters) {
    if (c.deref() != g) {
      std::printf("inconsistent: counter0=%ld other=%ld\n", g, c.deref());
      return -1;
    }
  }
  if (g != 0 && gen::text.deref() != text_for(g)) {
    std::printf("inconsistent text for generation %ld\n", g);
    return -1;
  }
  return g;
}

int check() {
  const long g = whole_generation();
  if (g < 0) return 3;
  std::printf("generation %ld\n", g);
  return 0;
}

// The chunked modes' model: the map of generation g has entries k -> k for
// k in [0, map_entries) except those generations 1..g changed (4 each, to
// that generation), plus -1 -> g. The text is that of the newest generation
// that is a multiple of 5 ("" before 5).
constexpr std::int64_t map_entries = 40'000;

test_state::int64_map next_map(test_state::int64_map m, long g) {
  auto t = std::move(m).transient();
  for (std::int64_t j = 0; j < 4; ++j) t.set((g * 7919 + j * 12'347) % map_entries, g);
  t.set(-1, g);
  return std::move(t).persistent();
}
test_state::int64_map map_of(long g) {
  auto t = test_state::int64_map().transient();
  for (std::int64_t k = -1; k < map_entries; ++k) t.set(k, k < 0 ? 0 : k);
  test_state::int64_map m = std::move(t).persistent();
  for (long i = 1; i <= g; ++i) m = next_map(std::move(m), i);
  return m;
}
std::string big_text_of(long g) {
  g -= g % 5;
  return g == 0 ? std::string() : std::string(1'500'000, static_cast<char>('a' + g % 26)) + std::to_string(g);
}
long map_generation() {
  const std::int64_t* g = big_map_ref.deref().find(-1);
  return g ? static_cast<long>(*g) : -1;
}

// The next generation's change, committed.
long change_chunked(long g) {
  ++g;
  const test_state::int64_map m = next_map(big_map_ref.deref(), g);
  instadump::dosync([&] {
    big_map_ref.set(m);
    if (g % 5 == 0) big_text_ref.set(big_text_of(g));
  });
  return g;
}

int chunked_loop() {
  if (big_map_ref.deref().empty()) {
    instadump::dosync([&] { big_map_ref.set(map_of(0)); });
    instadump::save_all();
  }
  for (long g = map_generation();;) {
    g = change_chunked(g);
    instadump::save_all();
    std::printf("saved %ld\n", g);
    std::fflush(stdout);
  }
}

int chunked_check() {
  const long g = map_generation();
  if (g < 0) {
    std::printf("no map\n");
    return 3;
  }
  if (!(big_map_ref.deref() == map_of(g))) {
    std::printf("the map is not generation %ld's\n", g);
    return 3;
  }
  if (big_text_ref.deref() != big_text_of(g)) {
    std::printf("the text is not generation %ld's\n", g);
    return 3;
  }
  std::printf("generation %ld\n", g);
  return 0;
}

int chunked_journal() {
  instadump::storage::testing::hold_journal_applier(true);
  if (big_map_ref.deref().empty()) throw std::runtime_error("chunked-journal: run chunked-loop first");
  const long g = change_chunked(map_generation());
  const instadump::save_result r = instadump::save_all();
  std::printf("saved %ld (%zu chunks)\n", g, r.chunks_written);
  std::fflush(stdout);
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

int read_loop(long target) {
  try {
    instadump::save_all();
    std::printf("save_all did not throw in a read-only session\n");
    return 3;
  } catch (const instadump::read_only_session&) {
  }
  long last = whole_generation();
  std::uint64_t last_id = 0;
  long loads = 0;
  while (last < target) {
    const std::uint64_t id = instadump::reload_all();
    ++loads;
    const long g = whole_generation();
    if (g < 0) return 3;
    if (g < last || id < last_id) {
      std::printf("went back: generation %ld (snapshot %llu) after %ld (snapshot %llu)\n", g,
                  static_cast<unsigned long long>(id), last, static_cast<unsigned long long>(last_id));
      return 3;
    }
    last = g;
    last_id = id;
  }
  std::printf("read %ld after %ld loads\n", last, loads);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: persist_child save|autosave-exit|print|crash-loop|check|hold|read-loop|chunked-loop|"
                 "chunked-check|chunked-journal <dir> [args]\n");
    return 2;
  }
  std::string mode = argv[1];
  try {
    instadump::setup_options options;
    if (mode == "autosave-exit") options.autosave.every = std::chrono::hours(1);
    // (The chunked modes' states are registered before setup() loads them.)
    std::optional<instadump::state_registration<test_state::int64_map>> map_reg;
    std::optional<instadump::state_registration<std::string>> text_reg;
    if (mode.rfind("chunked-", 0) == 0) {
      map_reg.emplace(big_map_ref, "chunked::map", test_state::map_schema, test_state::map_codec);
      text_reg.emplace(big_text_ref, "chunked::text", test_state::text_schema, test_state::text_codec);
    }
    options.read_only = mode == "read-loop";
    instadump::setup(argv[2], options);
    if ((mode == "save" || mode == "autosave-exit") && argc == 5) {
      instadump::dosync([&] {
        shop::visits.set(std::atol(argv[3]));
        shop::name.set(argv[4]);
      });
      if (mode == "save") {
        std::printf("saved %llu\n", static_cast<unsigned long long>(instadump::save_all().snapshot_id));
      }
    } else if (mode == "print") {
      std::printf("%ld %s\n", shop::visits.deref(), shop::name.deref().c_str());
    } else if (mode == "crash-loop") {
      return crash_loop();
    } else if (mode == "check") {
      return check();
    } else if (mode == "chunked-loop") {
      return chunked_loop();
    } else if (mode == "chunked-check") {
      return chunked_check();
    } else if (mode == "chunked-journal") {
      return chunked_journal();
    } else if (mode == "read-loop" && argc == 4) {
      return read_loop(std::atol(argv[3]));
    } else if (mode == "hold") {
      std::printf("ready\n");
      std::fflush(stdout);
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    } else {
      std::fprintf(stderr, "persist_child: unknown mode or arguments\n");
      return 2;
    }
  } catch (const std::exception& e) {
    std::printf("error: %s\n", e.what());
    return 1;
  }
  return 0;
}

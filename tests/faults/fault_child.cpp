// The program the fault tests run, under libfiu's POSIX preload library
// (fault_points.h), one process per case. It saves generations of a small
// state (six counters and a text that agree, plus a large value written
// straight into data.mdb), injects one fault into one step of one save path,
// reports what happened, recovers, and exits without closing the store (as
// a crash would leave it); `check` then loads in a fresh process.
//
//   fault_child fill <dir> <n>          saves n generations and closes the store
//   fault_child check <dir>             setup; "generation <g>" when the state is consistent
//   fault_child journal-only <dir>      saves one generation that stays in the journal, then exits
//   fault_child recover <dir>           setup, one save; "acked <g>"
//   fault_child full <dir> <ballast>   on a small filesystem: a save that finds the disk full, then one
//                                       after the ballast file is removed
//   fault_child open <dir> <point> <errno> <nth> <once|from>
//                                       setup with the fault armed; "loaded <g>" or "error <type>: <what>"
//   fault_child run <dir> <path> <point> <errno> <nth> <once|from> <recover|crash>
//       path: direct (a snapshot too large for the journal), journal (a journaled one),
//       applier (the background writer moving the journal into data.mdb), replay (setup's
//       replay of a journal left by journal-only), autosave (a save by the autosave thread).
//
// Output: "acked <g>" for every save that returned, "failed <type>: <what>" for
// every failure reported, "injected <n>", "recovered direct|reopened", and
// "violation: <what>" (exit 5) when the store broke a promise. Exit 4: an
// error where none may be; 2: usage.
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <thread>
#include <typeinfo>

#include "fault_points.h"
#include "storage/test_hooks.h"
#include "test_state.h"

import instadump;

namespace gen {
instadump::ref<long> counters[6];
instadump::ref<std::string> text{""};
instadump::ref<long> big_generation{0};
instadump::ref<std::string> big{""};
}  // namespace gen

namespace {

#define FAULT_REG(i)                                                                                          \
  instadump::state_registration<long> reg##i(gen::counters[i], "gen::counter" #i, test_state::int64_schema, \
                                             test_state::long_codec);
FAULT_REG(0)
FAULT_REG(1)
FAULT_REG(2)
FAULT_REG(3)
FAULT_REG(4)
FAULT_REG(5)
instadump::state_registration<std::string> text_reg(gen::text, "gen::text", test_state::text_schema,
                                                    test_state::text_codec);
instadump::state_registration<long> big_generation_reg(gen::big_generation, "gen::big_generation",
                                                       test_state::int64_schema, test_state::long_codec);
instadump::state_registration<std::string> big_reg(gen::big, "gen::big", test_state::text_schema,
                                                   test_state::text_codec);

std::string text_for(long g) { return std::string(static_cast<std::size_t>(100 + (g * 7919) % 3000), 'a' + g % 26); }
// Larger than a quarter of the journal (4 MiB): written into data.mdb directly.
std::string big_for(long g) { return std::string(1200000 + static_cast<std::size_t>(g % 7) * 4096, 'A' + g % 26); }

void say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

[[noreturn]] void violation(const std::string& what) {
  say("violation: " + what);
  std::_Exit(5);
}

std::string type_of(const std::exception& e) {
  if (dynamic_cast<const instadump::truncated_store*>(&e)) return "truncated_store";
  if (dynamic_cast<const instadump::corrupt_data*>(&e)) return "corrupt_data";
  if (dynamic_cast<const instadump::locked_by_other_process*>(&e)) return "locked_by_other_process";
  if (dynamic_cast<const instadump::open_failed*>(&e)) return "open_failed";
  if (dynamic_cast<const instadump::save_failed*>(&e)) return "save_failed";
  if (dynamic_cast<const instadump::load_failed*>(&e)) return "load_failed";
  if (dynamic_cast<const instadump::storage_error*>(&e)) return "storage_error";
  if (dynamic_cast<const instadump::error*>(&e)) return "error";
  return std::string("untyped ") + typeid(e).name();
}

long generation() { return gen::counters[0].deref(); }

// The state of generation g (the large value only when `with_big`).
void set_generation(long g, bool with_big) {
  instadump::dosync([&] {
    for (auto& c : gen::counters) c.set(g);
    gen::text.set(text_for(g));
    if (with_big) {
      gen::big_generation.set(g);
      gen::big.set(big_for(g));
    }
  });
}

std::uint64_t newest_snapshot() {
  const auto list = instadump::snapshots();
  return list.empty() ? 0 : list.front().id;
}

// Waits (up to 5 s) until `done`; the fault tests never depend on how long.
template <typename F>
void wait_for(F done) {
  for (int i = 0; i < 1000 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

faults::fault_plan plan_of(char** argv) {
  faults::fault_plan plan;
  plan.point = argv[0];
  plan.error = std::atoi(argv[1]);
  plan.nth = std::atoi(argv[2]);
  plan.once = std::strcmp(argv[3], "once") == 0;
  return plan;
}

// Saves generation g; "acked g" when it returns, "failed ..." when it throws
// save_failed. Anything else thrown is a violation. Returns the error text.
std::string try_save(long g, bool with_big) {
  set_generation(g, with_big);
  try {
    instadump::save_all();
    say("acked " + std::to_string(g));
    return {};
  } catch (const instadump::save_failed& e) {
    say("failed save_failed: " + std::string(e.what()));
    return e.what();
  } catch (const std::exception& e) {
    violation("save_all threw " + type_of(e) + " instead of save_failed: " + e.what());
  }
}

std::atomic<int> g_autosave_failures{0};

instadump::setup_options options_for(const std::string& path) {
  instadump::setup_options options;
  if (path == "autosave") {
    options.autosave.after_commits = 1;
    options.autosave.save_on_shutdown = false;
    options.autosave.on_error = [](const std::exception& e) {
      std::fprintf(stdout, "failed autosave %s: %s\n", type_of(e).c_str(), e.what());
      std::fflush(stdout);
      g_autosave_failures.fetch_add(1);
    };
  }
  return options;
}

// The armed step of `path` (generation g is the next to save).
void faulted_step(const std::string& dir, const instadump::setup_options& options, const std::string& path, long g,
                  const faults::fault_plan& plan) {
  const auto& points = faults::write_points();
  if (path == "direct" || path == "journal") {
    faults::arm(plan, points);
    set_generation(g, path == "direct");
    std::string failed;
    try {
      instadump::save_all();
    } catch (const instadump::save_failed& e) {
      failed = e.what();
    } catch (const std::exception& e) {
      faults::disarm();
      violation("save_all threw " + type_of(e) + " instead of save_failed: " + e.what());
    }
    faults::disarm();
    say(failed.empty() ? "acked " + std::to_string(g) : "failed save_failed: " + failed);
  } else if (path == "applier") {
    (void)try_save(g, false);  // journaled; the applier takes it into data.mdb in a moment
    faults::arm(plan, points);
    // The applier's commit flushes twice (the pages, then mdb_env_sync).
    wait_for([] { return faults::injected() > 0 || faults::calls("posix/io/sync/fdatasync") >= 2; });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // (let a failing applier finish failing)
    faults::disarm();
  } else if (path == "autosave") {
    const std::uint64_t before = newest_snapshot();
    faults::arm(plan, points);
    set_generation(g, false);  // the commit wakes the autosave thread
    // Its journaled save ends with one flush (or fails and reports).
    wait_for([] { return g_autosave_failures.load() > 0 || faults::calls("posix/io/sync/fdatasync") >= 1; });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    faults::disarm();
    const int reported = g_autosave_failures.load();
    if (reported > 3) violation("a lasting fault made autosave fail " + std::to_string(reported) + " times at once");
    // Whether the autosave wrote generation g, as the store says: a read
    // (which first moves the journal into data.mdb) may report a failed
    // background write and ask for a reopen; the reopened store knows.
    std::uint64_t now = 0;
    try {
      wait_for([&] { return reported > 0 || (now = newest_snapshot()) > before; });
    } catch (const instadump::load_failed& e) {
      say("failed load_failed: " + std::string(e.what()));
      if (std::string(e.what()).find("reopen") == std::string::npos) violation("a read after the fault failed");
      instadump::shutdown();
      instadump::setup(dir, options);
      now = newest_snapshot();
    }
    if (reported == 0 && now > before) say("acked " + std::to_string(g));
  } else {
    violation("unknown path " + path);
  }
}

// On a small filesystem: one save, then a file (`ballast`) that leaves too
// little room for the large value, whose save must fail saying the disk is
// full; with the ballast gone, the next save (after reopening, when the error
// says so) succeeds.
int fill_the_disk(const std::string& dir, const std::string& ballast) {
  instadump::setup(dir);
  long g = generation() + 1;
  if (!try_save(g, false).empty()) return 4;
  struct statvfs st;
  if (::statvfs(dir.c_str(), &st) != 0) return 4;
  const std::uint64_t free_bytes = std::uint64_t{st.f_bavail} * st.f_frsize;
  const std::uint64_t leave = 400 * 1024;
  if (free_bytes > leave) {
    std::FILE* f = std::fopen(ballast.c_str(), "w");
    if (f == nullptr) return 4;
    const std::string block(64 * 1024, 'b');
    for (std::uint64_t written = 0; written + leave < free_bytes; written += block.size()) {
      if (std::fwrite(block.data(), 1, block.size(), f) != block.size()) break;
    }
    std::fclose(f);
  }
  const std::string failed = try_save(++g, true);
  if (failed.empty()) violation("a save larger than the free space succeeded");
  std::remove(ballast.c_str());
  const std::string again = try_save(++g, true);
  if (again.empty()) {
    say("recovered direct");
    std::_Exit(0);
  }
  if (again.find("reopen") == std::string::npos) violation("the save after freeing space failed: " + again);
  instadump::shutdown();
  instadump::setup(dir);
  if (!try_save(generation() + 1, true).empty()) violation("the save after reopening failed");
  say("recovered reopened");
  std::_Exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: fault_child fill|check|journal-only|recover|full|open|run <dir> [args]\n");
    return 2;
  }
  const std::string mode = argv[1];
  const std::string dir = argv[2];
  try {
    if (mode == "fill" && argc == 4) {
      instadump::setup(dir);
      long n = std::atol(argv[3]);
      for (long g = generation() + 1; n > 0; --n, ++g) {
        set_generation(g, g % 3 == 0);
        instadump::save_all();
        say("acked " + std::to_string(g));
      }
      instadump::shutdown();
      return 0;
    }
    if (mode == "check") {
      try {
        instadump::setup(dir);
      } catch (const std::exception& e) {
        say("error " + type_of(e) + ": " + e.what());
        return 4;
      }
      const long g = generation();
      for (auto& c : gen::counters) {
        if (c.deref() != g) violation("counters disagree: " + std::to_string(g) + " and " + std::to_string(c.deref()));
      }
      if (g != 0 && gen::text.deref() != text_for(g)) violation("the text is not generation " + std::to_string(g) + "'s");
      const long bg = gen::big_generation.deref();
      if (bg > g || (bg != 0 && gen::big.deref() != big_for(bg))) violation("the large value is not generation " + std::to_string(bg) + "'s");
      say("generation " + std::to_string(g));
      std::_Exit(0);
    }
    if (mode == "journal-only") {
      instadump::setup(dir);
      instadump::storage::testing::hold_journal_applier(true);
      (void)try_save(generation() + 1, false);
      std::_Exit(0);
    }
    if (mode == "recover") {
      instadump::setup(dir);
      if (!try_save(generation() + 1, false).empty()) return 4;
      std::_Exit(0);
    }
    if (mode == "full" && argc == 4) {
      return fill_the_disk(dir, argv[3]);
    }
    if (mode == "open" && argc == 7) {
      faults::arm(plan_of(argv + 3), faults::read_points());
      try {
        instadump::setup(dir);
      } catch (const std::exception& e) {
        faults::disarm();
        say("injected " + std::to_string(faults::injected()));
        say("error " + type_of(e) + ": " + e.what());
        std::_Exit(0);
      }
      faults::disarm();
      say("injected " + std::to_string(faults::injected()));
      say("loaded " + std::to_string(generation()));
      std::_Exit(0);
    }
    if (mode == "run" && argc == 9) {
      const std::string path = argv[3];
      const faults::fault_plan plan = plan_of(argv + 4);
      const bool recover_after = std::strcmp(argv[8], "recover") == 0;
      const instadump::setup_options options = options_for(path);
      if (path == "replay") {
        faults::arm(plan, [] {
          auto points = faults::write_points();
          for (const auto& p : faults::read_points()) points.push_back(p);
          return points;
        }());
        std::string failed;
        try {
          instadump::setup(dir, options);
        } catch (const std::exception& e) {
          failed = type_of(e) + ": " + e.what();
        }
        faults::disarm();
        say("injected " + std::to_string(faults::injected()));
        if (!failed.empty()) {
          say("failed setup " + failed);
          if (failed.rfind("untyped", 0) == 0) violation("setup threw an untyped exception");
          if (!recover_after) std::_Exit(0);
          instadump::setup(dir, options);  // the fault has cleared: this must work
        }
        say("loaded " + std::to_string(generation()));
        if (!recover_after) std::_Exit(0);
        const std::string again = try_save(generation() + 1, false);
        if (!again.empty()) violation("the save after the fault failed: " + again);
        say("recovered direct");
        std::_Exit(0);
      }
      instadump::setup(dir, options);
      long g = generation() + 1;
      if (!try_save(g, path == "direct").empty()) return 4;  // the baseline, without faults
      newest_snapshot();  // data.mdb takes the journal now: the applier is idle when the fault comes
      faulted_step(dir, options, path, ++g, plan);
      say("injected " + std::to_string(faults::injected()));
      if (!recover_after) std::_Exit(0);
      ++g;
      const std::string failed = try_save(g, path == "direct");
      if (failed.empty()) {
        say("recovered direct");
        std::_Exit(0);
      }
      if (failed.find("reopen") == std::string::npos) violation("the save after the fault failed: " + failed);
      instadump::shutdown();
      instadump::setup(dir, options);
      const std::string again = try_save(generation() + 1, path == "direct");
      if (!again.empty()) violation("the save after reopening failed: " + again);
      say("recovered reopened");
      std::_Exit(0);
    }
  } catch (const std::exception& e) {
    say("error " + type_of(e) + ": " + e.what());
    return 4;
  }
  std::fprintf(stderr, "fault_child: unknown mode or arguments\n");
  return 2;
}

// Shared by the nine versions of the evolution test program (v1/ .. v9/).
//
// Each version is the same small shop program at a later release: v2 adds
// members and states, v3 renames a member and a state, v4 changes a member's
// type and a state's type (user migrations), widens members and a state, and
// extends an enum and a variant, v5 removes a member, v6 changes the member
// type of v4 again (a second migration, chained after the first), v7 adds a
// std::map state, v8 switches it to instadump::pmap and a std::vector state
// to instadump::pvector and changes their element type (a migration), v9
// switches a member of a struct state (Stats::code) to instadump::pvector,
// which is then stored node by node.
// run_evolution.cmake runs them in sequence against one database. Every
// snapshot records which version wrote it (the state shop::writer), and
// each program knows what every older snapshot must look like through its
// own types, so checking each stored snapshot in a fresh process verifies that
// every older snapshot still loads (a state a snapshot predates keeps its
// default).
//
// Release numbers (evolve_v1..v5) are not schema history versions: releases
// 1 to 3 only changed the types compatibly and all wrote history version 1;
// release 4's type change started history version 2.
//
//   evolve_vN <dir> write       load, make this version's change, save
//   evolve_vN <dir> check [id]  load the newest snapshot (or snapshot id) and verify it
//   evolve_vN <dir> ids         print the ids of the stored snapshots, as a CMake list
//
// With INSTADUMP_EVOLVE_REPLICATE="<url> <store> [<snapshot>]" in the
// environment, the program replicates to PostgreSQL (sync), and an empty
// <dir> is restored from replicated snapshot <snapshot> (default: the
// newest): tests/replication/migration_test.cpp.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <sstream>
#include <string>
#include <string_view>

import instadump;

namespace evolution {

inline int failures = 0;

inline void expect(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "MISMATCH: %s\n", what.c_str());
    ++failures;
  }
}

// Runs the command with the version's callbacks: write() changes the state,
// verify(w) checks the loaded state as written by version w.
template <class Write, class Verify, class Writer>
int run(int argc, char** argv, int version, Writer& writer, Write write, Verify verify) {
  if (argc != 3 && !(argc == 4 && std::string_view(argv[2]) == "check")) {
    std::fprintf(stderr, "usage: evolve_v%d <dir> write|check [snapshot id]|ids\n", version);
    return 2;
  }
  std::string_view command = argv[2];
  try {
    instadump::setup_options options;
    options.keep_generations = 10;
    if (argc == 4) options.load_snapshot = std::strtoull(argv[3], nullptr, 10);
    if (const char* replicate = std::getenv("INSTADUMP_EVOLVE_REPLICATE")) {
      std::istringstream words(replicate);
      words >> options.replicate.url >> options.replicate.store >> options.replicate.restore_snapshot;
    }
    instadump::setup(argv[1], options);
    if (command == "write") {
      instadump::dosync([&] {
        writer.set(version);
        write();
      });
      instadump::save_all();
    } else if (command == "check") {
      verify(writer.deref());
      std::printf("v%d read snapshot %s of v%d\n", version, argc == 4 ? argv[3] : "(newest)",
                  static_cast<int>(writer.deref()));
    } else if (command == "ids") {
      for (const auto& s : instadump::snapshots()) std::printf("%llu;", static_cast<unsigned long long>(s.id));
    } else {
      std::fprintf(stderr, "unknown command %s\n", argv[2]);
      return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ERROR: %s\n", e.what());
    return 3;
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace evolution

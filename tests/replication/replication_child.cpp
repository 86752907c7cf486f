// The failover test's child program: a writer saving in a loop with sync
// replication, started as the first writer or as a standby that waits for
// the lease, takes over and restores its (empty) directory from PostgreSQL.
//
//   replication_child writer  <dir> <url> <store> [n]   take the lease now (or fail)
//   replication_child standby <dir> <url> <store> [n]   wait for the lease
//
// Once it is the writer it prints "writer <generation> <whole>" -- the
// generation it restored and whether both states agree on it (1: the state
// is one whole snapshot) -- then saves generation after generation, printing
// "acked <generation>" after each save_all returned (PostgreSQL committed
// it); with `n`, stops after n saves and exits 0. Exits 4 printing "fenced"
// when it loses the lease.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "replication_states.h"

import instadump;

using namespace replication_test;

int main(int argc, char** argv) {
  if (argc != 5 && argc != 6) {
    std::fprintf(stderr, "usage: replication_child writer|standby <dir> <url> <store> [saves]\n");
    return 2;
  }
  instadump::setup_options o;
  o.replicate.url = argv[3];
  o.replicate.store = argv[4];
  o.replicate.mode = instadump::replication::sync;
  o.replicate.standby = std::strcmp(argv[1], "standby") == 0;
  o.autosave.save_on_shutdown = false;
  try {
    instadump::setup(argv[2], o);
    long g = counter.deref();
    std::printf("writer %ld %d\n", g, text.deref() == (g == 0 ? std::string() : text_for(g)) ? 1 : 0);
    std::fflush(stdout);
    const long stop_at = argc == 6 ? g + std::atol(argv[5]) : -1;
    while (g != stop_at) {
      set_generation(++g);
      instadump::save_all();
      std::printf("acked %ld\n", g);
      std::fflush(stdout);
    }
    instadump::shutdown();
    return 0;
  } catch (const instadump::lease_lost& e) {
    std::printf("fenced %s\n", e.what());
    return 4;
  } catch (const std::exception& e) {
    std::printf("error %s\n", e.what());
    return 3;
  }
}

// Loads the states of the executable, a static library, a shared library and
// (after setup) a dlopen'ed module; changes all of them in one transaction;
// saves; checks that reload_all brings all of them back; prints them.
// Run twice on one directory: the second run prints what the first saved.
//   host <dir>
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "inventory.h"
#include "pricing.h"

import instadump;

namespace host {
[[instadump::state]] instadump::ref<int> runs{0};
extern instadump::ref<long> late_counter;  // late_state.cpp
}  // namespace host

namespace {

template <class F>
F symbol(void* module, const char* name) {
  void* s = dlsym(module, name);
  if (!s) {
    std::fprintf(stderr, "host: %s not found in the audit module: %s\n", name, dlerror());
    std::exit(1);
  }
  return reinterpret_cast<F>(s);
}

int check(bool ok, const char* what) {
  if (!ok) std::fprintf(stderr, "host: FAILED: %s\n", what);
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: host <dir>\n");
    return 2;
  }
  instadump::setup(argv[1]);
  void* module = dlopen(AUDIT_MODULE, RTLD_NOW | RTLD_LOCAL);
  if (!module) {
    std::fprintf(stderr, "host: dlopen %s: %s\n", AUDIT_MODULE, dlerror());
    return 1;
  }
  auto audit_record = symbol<void (*)(const char*)>(module, "audit_record");
  auto audit_size = symbol<int (*)()>(module, "audit_size");
  auto audit_last = symbol<const char* (*)()>(module, "audit_last");
  auto audit_sees_transaction = symbol<bool (*)()>(module, "audit_sees_transaction");
  auto audit_sees_setup = symbol<bool (*)()>(module, "audit_sees_setup");

  auto stock = inventory::stock.deref();
  std::printf("runs=%d late=%ld apples=%d factor=%.2f audit=%d:%s\n", host::runs.deref(), host::late_counter.deref(),
              stock.count("apple") ? stock.at("apple") : 0, pricing::factor(), audit_size(), audit_last());

  // One runtime: every shared object sees the setup and the transaction.
  int failures = check(pricing::sees_setup() && audit_sees_setup(), "setup() seen from every shared object");
  bool seen_inside = instadump::dosync([&] {
    host::runs.alter([](int r) { return r + 1; });
    host::late_counter.alter([](long c) { return c + 1; });
    inventory::add("apple", 5);
    pricing::scale(1.5);
    audit_record(("run " + std::to_string(host::runs.deref())).c_str());
    return pricing::sees_transaction() && audit_sees_transaction();
  });
  failures += check(seen_inside, "the transaction seen from every shared object");
  instadump::save_all();

  // reload_all restores every state, wherever it lives, as one.
  int runs = host::runs.deref();
  double factor = pricing::factor();
  int entries = audit_size();
  instadump::dosync([&] {
    host::runs.set(-1);
    inventory::add("apple", 1000);
    pricing::scale(0);
    audit_record("not saved");
  });
  instadump::reload_all();
  failures += check(host::runs.deref() == runs && pricing::factor() == factor && audit_size() == entries &&
                        inventory::stock.deref().at("apple") % 5 == 0,
                    "reload_all restores the states of every shared object");
  return failures;
}

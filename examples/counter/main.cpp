// The counter example: the Clojure README's durable-atom demo in C++.
//
// Two states survive the process. Run it twice against the same directory:
//   $ counter /tmp/counter-db   ->  150 abc
//   $ counter /tmp/counter-db   ->  1000 abc
#include <cstdio>
#include <string>

import instadump;

namespace counter {
[[instadump::state]] instadump::ref<int> visits{150};
[[instadump::state]] instadump::ref<std::string> name{"abc"};
}  // namespace counter

int main(int argc, char** argv) {
  instadump::setup(argc > 1 ? argv[1] : "counter-db");  // loads the newest snapshot, if any
  std::printf("%d %s\n", counter::visits.deref(), counter::name.deref().c_str());
  instadump::dosync([] { counter::visits.set(1000); });
  instadump::save_all();  // durable when it returns
}

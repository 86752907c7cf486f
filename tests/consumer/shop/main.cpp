// Prints the state, changes it and saves: run twice, the second run prints
// what the first saved.  usage: shop <dir>
#include <cstdio>

#include "state.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: shop <dir>\n");
    return 2;
  }
  instadump::setup(argv[1]);
  auto stock = shop::stock.deref();
  auto apple = stock.find("apple");
  std::printf("visits=%d apples=%lld mode=%s\n", shop::visits.deref(),
              apple == stock.end() ? -1LL : static_cast<long long>(apple->second.qty),
              shop::mode.deref() == Mode::busy ? "busy" : "idle");
  instadump::dosync([] {
    shop::visits.alter([](int v) { return v + 1; });
    shop::stock.alter([](auto s) {
      s["apple"].name = "apple";
      s["apple"].qty += 10;
      return s;
    });
    shop::mode.set(Mode::busy);
  });
  instadump::save_all();
}

// Loads the state, records a visit and an order, prints the report, saves.
//   app <dir>
#include <cstdio>
#include <string>

#include "state.h"

int main(int argc, char** argv) {
  instadump::setup(argc > 1 ? argv[1] : "app-db");
  instadump::dosync([] {
    shop::visits.alter([](std::int64_t v) { return v + 1; });
    shop::stock.alter([](auto s) {
      auto& apple = s["apple"];
      apple.name = "apple";
      apple.quantity += 3;
      return s;
    });
    shop::orders.alter([](auto o) {
      o.push_back(shop::order{o.size() + 1, {{"apple", 3}}, false});
      return o;
    });
  });
  std::printf("visit %lld\n%s", static_cast<long long>(shop::visits.deref()),
              shop::stock_report(shop::stock.deref(), 10).c_str());
  instadump::save_all();
}

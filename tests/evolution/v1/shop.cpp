// Version 1 of the evolution test program (see ../check.h).
#include <string>
#include <vector>

#include "../check.h"

namespace shop {
struct Item {
  std::string name;
  int price = 0;  // cents
  int quantity = 0;
};

[[instadump::state]] instadump::ref<std::vector<Item>> items{std::vector<Item>{}};
[[instadump::state]] instadump::ref<int> visits{0};
[[instadump::state]] instadump::ref<int> writer{0};
}  // namespace shop

int main(int argc, char** argv) {
  using evolution::expect;
  return evolution::run(
      argc, argv, 1, shop::writer,
      [] {
        shop::items.set({{"apple", 120, 3}, {"pear", 80, 5}});
        shop::visits.set(7);
      },
      [](int w) {
        expect(w == 1, "v1 reads only its own snapshots");
        auto items = shop::items.deref();
        expect(items.size() == 2, "two items");
        if (items.size() != 2) return;
        expect(items[0].name == "apple" && items[0].price == 120 && items[0].quantity == 3, "apple");
        expect(items[1].name == "pear" && items[1].price == 80 && items[1].quantity == 5, "pear");
        expect(shop::visits.deref() == 7, "visits");
      });
}

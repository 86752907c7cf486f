// Version 2 of the evolution test program (see ../check.h): Item gains a
// member, and a new state appears.
#include <string>
#include <vector>

#include "../check.h"

namespace shop {
struct Item {
  std::string name;
  int price = 0;  // cents
  int quantity = 0;
  std::string note;  // new in v2
};

[[instadump::state]] instadump::ref<std::vector<Item>> items{std::vector<Item>{}};
[[instadump::state]] instadump::ref<int> visits{0};
[[instadump::state]] instadump::ref<int> writer{0};
[[instadump::state]] instadump::ref<std::string> owner{std::string("nobody")};  // new in v2
}  // namespace shop

int main(int argc, char** argv) {
  using evolution::expect;
  return evolution::run(
      argc, argv, 2, shop::writer,
      [] {
        shop::items.alter([](auto items) {
          items[0].note = "crisp";
          return items;
        });
        shop::owner.set("ada");
      },
      [](int w) {
        expect(w <= 2, "v2 reads snapshots of v1 and v2");
        auto items = shop::items.deref();
        expect(items.size() == 2, "two items");
        if (items.size() != 2) return;
        expect(items[0].name == "apple" && items[0].price == 120 && items[0].quantity == 3, "apple");
        expect(items[0].note == (w >= 2 ? "crisp" : ""), "apple's note (empty before v2)");
        expect(items[1].name == "pear" && items[1].price == 80 && items[1].quantity == 5 && items[1].note.empty(),
               "pear");
        expect(shop::visits.deref() == 7, "visits");
        expect(shop::owner.deref() == (w >= 2 ? "ada" : "nobody"), "owner (its default before v2)");
      });
}

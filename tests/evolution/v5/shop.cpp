// Version 5 of the evolution test program (see ../check.h): Item's note is
// removed (its ordinal stays reserved in the schema).
#include <cstdint>
#include <string>
#include <vector>

#include "../check.h"

namespace shop {
struct Money {
  long long cents = 0;
  std::string currency;
  bool operator==(const Money&) const = default;
};

struct Item {
  std::string name;
  Money price;
  [[instadump::renamed_from("quantity")]] int stock = 0;
};

[[instadump::state]] instadump::ref<std::vector<Item>> items{std::vector<Item>{}};
[[instadump::state, instadump::renamed_from("shop::visits")]] instadump::ref<std::int64_t> page_views{0};
[[instadump::state]] instadump::ref<int> writer{0};
[[instadump::state]] instadump::ref<std::string> owner{std::string("nobody")};
}  // namespace shop

// The migration of v4 stays: snapshots of v1 to v3 still need it.
#include "evolve_v5_schema_history.h"

shop::Item instadump::schema::migrate(const instadump::schema::v1::shop::Item& old) {
  return shop::Item{old.name, shop::Money{old.price, "EUR"}, old.stock};
}

int main(int argc, char** argv) {
  using evolution::expect;
  return evolution::run(
      argc, argv, 5, shop::writer,
      [] {
        shop::items.alter([](auto items) {
          items[1].stock = 6;
          return items;
        });
      },
      [](int w) {
        expect(w <= 5, "v5 reads snapshots of v1 to v5");
        auto items = shop::items.deref();
        expect(items.size() == (w >= 4 ? 3u : 2u), "two items, three from v4 on");
        if (items.size() < 2) return;
        expect(items[0].name == "apple" && items[0].price == shop::Money{120, "EUR"} && items[0].stock == 3, "apple");
        expect(items[1].name == "pear" && items[1].price == shop::Money{80, "EUR"} &&
                   items[1].stock == (w >= 5 ? 6 : 5),
               "pear");
        if (items.size() == 3) {
          expect(items[2].name == "fig" && items[2].price == shop::Money{250, "USD"} && items[2].stock == 2, "fig");
        }
        expect(shop::page_views.deref() == (w >= 3 ? 8 : 7), "page_views");
        expect(shop::owner.deref() == (w >= 2 ? "ada" : "nobody"), "owner");
      });
}

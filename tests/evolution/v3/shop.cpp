// Version 3 of the evolution test program (see ../check.h): a member and a
// state are renamed.
#include <string>
#include <variant>
#include <vector>

#include "../check.h"

namespace shop {
struct Item {
  std::string name;
  int price = 0;  // cents
  [[instadump::renamed_from("quantity")]] int stock = 0;
  std::string note;
};

enum class Kind { plain, special };

struct Stats {
  int hits = 0;
  float ratio = 0;
  int code = 0;
  std::string label;
  Kind kind = Kind::plain;
  std::variant<int, std::string> tag;
};

[[instadump::state]] instadump::ref<std::vector<Item>> items{std::vector<Item>{}};
[[instadump::state, instadump::renamed_from("shop::visits")]] instadump::ref<int> page_views{0};
[[instadump::state]] instadump::ref<int> writer{0};
[[instadump::state]] instadump::ref<std::string> owner{std::string("nobody")};
[[instadump::state]] instadump::ref<Stats> stats{Stats{}};
}  // namespace shop

int main(int argc, char** argv) {
  using evolution::expect;
  return evolution::run(
      argc, argv, 3, shop::writer, [] { shop::page_views.alter([](int v) { return v + 1; }); },
      [](int w) {
        expect(w <= 3, "v3 reads snapshots of v1 to v3");
        auto items = shop::items.deref();
        expect(items.size() == 2, "two items");
        if (items.size() != 2) return;
        expect(items[0].name == "apple" && items[0].price == 120 && items[0].stock == 3, "apple (stock was quantity)");
        expect(items[0].note == (w >= 2 ? "crisp" : ""), "apple's note");
        expect(items[1].name == "pear" && items[1].price == 80 && items[1].stock == 5, "pear");
        expect(shop::page_views.deref() == (w >= 3 ? 8 : 7), "page_views (was visits)");
        expect(shop::owner.deref() == (w >= 2 ? "ada" : "nobody"), "owner");
        const shop::Stats& st = shop::stats.deref();
        expect(w >= 2 ? st.hits == 11 && st.code == 4 && std::get<std::string>(st.tag) == "t" : st.hits == 0, "stats");
      });
}

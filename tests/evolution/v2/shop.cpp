// Version 2 of the evolution test program (see ../check.h): Item gains a
// member, and a new state appears.
#include <string>
#include <variant>
#include <vector>

#include "../check.h"

namespace shop {
struct Item {
  std::string name;
  int price = 0;  // cents
  int quantity = 0;
  std::string note;  // new in v2
};

enum class Kind { plain, special };

// New in v2; v4 widens its members.
struct Stats {
  int hits = 0;
  float ratio = 0;
  int code = 0;
  std::string label;
  Kind kind = Kind::plain;
  std::variant<int, std::string> tag;
};

[[instadump::state]] instadump::ref<std::vector<Item>> items{std::vector<Item>{}};
[[instadump::state]] instadump::ref<int> visits{0};
[[instadump::state]] instadump::ref<int> writer{0};
[[instadump::state]] instadump::ref<std::string> owner{std::string("nobody")};  // new in v2
[[instadump::state]] instadump::ref<Stats> stats{Stats{}};                          // new in v2
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
        shop::stats.set({11, 0.5f, 4, "x", shop::Kind::special, std::string("t")});
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
        const shop::Stats& st = shop::stats.deref();
        if (w >= 2) {
          expect(st.hits == 11 && st.ratio == 0.5f && st.code == 4 && st.label == "x" && st.kind == shop::Kind::special &&
                     std::get<std::string>(st.tag) == "t",
                 "stats");
        } else {
          expect(st.hits == 0 && st.label.empty() && st.tag.index() == 0, "stats (its default before v2)");
        }
      });
}

// Version 9 of the evolution test program (see ../check.h): the member
// Stats::code switches from std::vector to instadump::pvector (compatible:
// a Stats stored whole by an older release loads into it), which makes it a
// member stored node by node (ChunkedMembers) from this release's first
// save on, so release 8 refuses this release's snapshots (run_evolution.cmake).
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "../check.h"

namespace shop {
enum class Currency { EUR, USD };  // was a std::string

struct Money {
  long long cents = 0;
  Currency currency = Currency::EUR;
  bool operator==(const Money&) const = default;
};

struct Item {
  std::string name;
  Money price;
  double stock = 0;  // was int
};

enum class Kind { plain, special, premium };  // premium: new in v4

// v4 widens every member of v2's Stats, which converts by itself.
struct Stats {
  std::int64_t hits = 0;                   // was int
  double ratio = 0;                        // was float
  instadump::pvector<int> code;            // was int; then std::vector (v2-v8)
  std::optional<std::string> label;        // was std::string
  Kind kind = Kind::plain;
  std::variant<int, std::string, double> tag;  // gained an alternative
};

// The owner was a name; v4 makes it a struct (a migration of the state).
struct Person {
  std::string name;
  int since = 0;
  bool operator==(const Person&) const = default;
};

[[instadump::state]] instadump::ref<instadump::pvector<Item>> items;  // was std::vector
[[instadump::state, instadump::renamed_from("shop::visits")]] instadump::ref<std::int64_t> page_views{0};
[[instadump::state]] instadump::ref<int> writer{0};
[[instadump::state]] instadump::ref<Person> owner{Person{"nobody", 0}};
[[instadump::state]] instadump::ref<Stats> stats{Stats{}};
[[instadump::state]] instadump::ref<instadump::pmap<std::string, Money>> prices;  // was std::map
}  // namespace shop

#include "evolve_v9_schema_history.h"

// BEGIN MIGRATIONS (regenerate-histories.sh removes this block to show the build error first)
// v4's migration of Item, now into history version 2's layout of Item (a
// generated struct since this release changed Item again).
instadump::schema::v2::shop::Item instadump::schema::migrate(const instadump::schema::v1::shop::Item& old) {
  return {old.name, shop::Money{old.price, shop::Currency::EUR}, old.stock};
}

instadump::schema::v3::shop::Item instadump::schema::migrate(const instadump::schema::v2::shop::Item& old) {
  return {old.name, old.price, static_cast<double>(old.stock) + 0.5};
}

instadump::schema::v2::shop::owner_state instadump::schema::migrate(const instadump::schema::v1::shop::owner_state& old) {
  return {shop::Person{old.value, old.value == "nobody" ? 0 : 2020}};
}
instadump::schema::v4::shop::Money instadump::schema::migrate(const instadump::schema::v3::shop::Money& old) {
  return {old.cents, old.currency == "USD" ? shop::Currency::USD : shop::Currency::EUR};
}
// END MIGRATIONS

int main(int argc, char** argv) {
  using evolution::expect;
  return evolution::run(
      argc, argv, 9, shop::writer,
      [] {
        shop::stats.alter([](shop::Stats st) {
          st.code = st.code.push_back(9);
          return st;
        });
      },
      [](int w) {
        expect(w <= 9, "v9 reads snapshots of v1 to v9");
        // Every stock went through the second migration (+0.5) once: when
        // loaded here, or when v6 loaded the snapshot it then saved.
        const auto& items = shop::items.deref();
        expect(items.size() == (w >= 4 ? 3u : 2u), "two items, three from v4 on");
        if (items.size() < 2) return;
        expect(items[0].name == "apple" && items[0].price == shop::Money{120, shop::Currency::EUR} && items[0].stock == 3.5,
               "apple (stock migrated twice)");
        expect(items[1].name == "pear" && items[1].price == shop::Money{80, shop::Currency::EUR} &&
                   items[1].stock == (w >= 5 ? 6.5 : 5.5),
               "pear");
        if (items.size() == 3) {
          expect(items[2].name == "fig" && items[2].price == shop::Money{250, shop::Currency::USD} &&
                     items[2].stock == (w >= 8 ? 1.75 : w >= 6 ? 2.25 : 2.5),
                 "fig");
        }
        expect(shop::page_views.deref() == (w >= 3 ? 8 : 7), "page_views");
        expect(shop::owner.deref() == shop::Person{w >= 2 ? "ada" : "nobody", w >= 2 ? 2020 : 0}, "owner (migrated)");
        const shop::Stats& st = shop::stats.deref();
        if (w >= 2) {
          const instadump::pvector<int> code = w >= 9 ? instadump::pvector<int>{4, 9} : instadump::pvector<int>{4};
          expect(st.hits == 11 && st.ratio == 0.5 && st.code == code && st.label == "x" &&
                     st.kind == shop::Kind::special && std::get<std::string>(st.tag) == "t",
                 "stats (widened)");
        } else {
          expect(st.hits == 0 && st.code.empty() && !st.label && st.tag.index() == 0, "stats (its default before v2)");
        }
        using price_map = instadump::pmap<std::string, shop::Money>;
        price_map prices;
        if (w >= 7) {
          prices = {{"apple", shop::Money{120, shop::Currency::EUR}}, {"fig", shop::Money{250, shop::Currency::USD}}};
        }
        if (w >= 8) prices = prices.set("pear", shop::Money{80, shop::Currency::EUR});
        expect(shop::prices.deref() == prices, "prices (from v7 on, migrated)");
      });
}

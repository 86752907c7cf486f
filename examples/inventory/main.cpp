// The inventory example: many durable refs of nested types, autosave after
// every commit, and going back to an older snapshot with reload_all(id).
//
//   inventory <dir>     (starts from an empty <dir> each time it is run by ctest)
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "inventory.h"

import instadump;

namespace inventory {
[[instadump::state]] instadump::ref<std::map<std::string, warehouse>> warehouses;
[[instadump::state]] instadump::ref<std::vector<order>> orders;
[[instadump::state]] instadump::ref<std::uint64_t> next_order_id{1};
[[instadump::state]] instadump::ref<std::deque<std::string>> audit_log;
[[instadump::state]] instadump::ref<std::chrono::seconds> reservation_timeout{std::chrono::minutes(15)};
}  // namespace inventory

namespace {

using namespace inventory;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "inventory: FAILED: %s\n", what);
    std::exit(1);
  }
}

// Places an order in one transaction: stock, order list, id and log change together.
void place_order(const std::string& wh, const std::string& sku, std::int64_t qty) {
  instadump::dosync([&] {
    std::uint64_t id = next_order_id.deref();
    warehouses.alter([&](auto all) {
      all.at(wh).items.at(sku).qty -= qty;
      return all;
    });
    orders.alter([&](auto list) {
      list.push_back(order{id, wh, {{sku, qty}}, std::chrono::system_clock::now()});
      return list;
    });
    next_order_id.set(id + 1);
    audit_log.alter([&](auto log) {
      log.push_back("order " + std::to_string(id) + ": " + std::to_string(qty) + " x " + sku);
      return log;
    });
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path dir = argc > 1 ? argv[1] : "inventory-db";
  instadump::setup_options options;
  options.keep_generations = 10;
  options.autosave.after_commits = 1;  // every commit is saved in the background
  instadump::setup(dir, options);

  instadump::dosync([] {
    warehouses.set({{"north",
                     {{"1 Ice Road", "Tromso", std::nullopt},
                      {{"apple", {100, 0.5, category::food, percent_off{10}}},
                       {"hammer", {5, 12.0, category::tools, {}}},
                       {"kite", {7, std::nullopt, category::toys, bundle{"string", 2}}}}}},
                    {"south", {{"9 Beach St", "Faro", "ring twice"}, {}}}});
  });
  auto first = instadump::save_all();  // the opening inventory
  place_order("north", "apple", 30);
  // Autosave writes the order in the background; wait for its snapshot.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (instadump::snapshots().front().id == first.snapshot_id && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  check(instadump::snapshots().front().id > first.snapshot_id, "autosave wrote a snapshot after the commit");
  std::printf("autosave wrote snapshot %llu\n",
              static_cast<unsigned long long>(instadump::snapshots().front().id));
  place_order("north", "kite", 2);
  auto second = instadump::save_all();
  check(second.snapshot_id > first.snapshot_id, "snapshot ids increase");
  check(instadump::snapshots().size() >= 2, "autosave and save_all keep several snapshots");
  std::printf("after two orders: %zu orders, %lld apples left\n", orders.deref().size(),
              static_cast<long long>(warehouses.deref().at("north").items.at("apple").qty));

  // Back to the opening inventory: every ref reverts in one commit.
  instadump::reload_all(first.snapshot_id);
  check(orders.deref().empty(), "no orders in the first snapshot");
  check(next_order_id.deref() == 1, "order ids restart");
  check(warehouses.deref().at("north").items.at("apple").qty == 100, "apples restored");
  check(std::holds_alternative<bundle>(warehouses.deref().at("north").items.at("kite").promotion), "variant restored");
  check(warehouses.deref().at("south").where.note == "ring twice", "optional restored");
  std::printf("reloaded snapshot %llu: %zu orders, %lld apples\n", static_cast<unsigned long long>(first.snapshot_id),
              orders.deref().size(), static_cast<long long>(warehouses.deref().at("north").items.at("apple").qty));

  // And forward again to the newest.
  instadump::reload_all(second.snapshot_id);
  check(orders.deref().size() == 2 && audit_log.deref().size() == 2, "newest snapshot restored");
  instadump::shutdown();
  std::printf("inventory: ok\n");
}

// Snapshots as change records (format 2): a randomized model check of
// building on the newest, an older or an empty snapshot, keeping values in
// place or moving them to other keys, removing keys, pruning to
// keep_generations and reopening; after every write each kept snapshot must
// read back exactly its model, and the store must hold exactly the blobs the
// kept snapshots have values in (nothing leaks, nothing live is deleted).
#include <catch2/catch.hpp>

#include <algorithm>
#include <iterator>
#include <map>
#include <ranges>
#include <random>
#include <set>
#include <string>

#include "common/errors.h"
#include "storage/snapshot_chain.h"
#include "test_util.h"

using namespace instadump::storage;
using storage_test::pattern;
using storage_test::read_all;
using storage_test::referenced_blobs;
using storage_test::scratch_dir;
using storage_test::value_of;

namespace {

using model_t = std::map<std::string, std::vector<std::byte>>;

void check_store(const snapshot_store& store, const std::map<std::uint64_t, model_t>& models, unsigned keep) {
  const auto ids = store.snapshot_ids();
  REQUIRE(ids.size() == std::min<std::size_t>(keep, models.size()));
  for (std::size_t i = 0; i < ids.size(); ++i) {
    CHECK(ids[i] == models.rbegin()->first - i);
    CHECK(read_all(store, ids[i]) == models.at(ids[i]));
  }
  CHECK(store.stats().blob_count == referenced_blobs(store).size());
}

}  // namespace

TEST_CASE("random saves on newest, older and empty bases read back exactly, and reclaim exactly") {
  for (unsigned keep : {1u, 2u, 3u}) {
    CAPTURE(keep);
    scratch_dir tmp;
    store_options options;
    options.keep_generations = keep;
    auto store = snapshot_store::open(tmp.path(), options);
    std::mt19937_64 rng(1234 + keep);
    auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
    const std::vector<std::string> keys = {"a", "b", "c", "d", "e", "f", "g", "h", std::string(600, 'x')};

    std::map<std::uint64_t, model_t> models;  // of the kept snapshots
    std::uint64_t seed = 1;
    for (int step = 0; step < 150; ++step) {
      CAPTURE(step);
      // The base: usually the newest snapshot, sometimes an older kept one or nothing.
      std::uint64_t base = 0;
      if (!models.empty()) {
        const int roll = static_cast<int>(pick(10));
        if (roll < 8) {
          base = models.rbegin()->first;
        } else if (roll == 8) {
          auto it = models.begin();
          std::advance(it, pick(models.size()));
          base = it->first;
        }
      }
      model_t next = base ? models.at(base) : model_t{};
      std::map<std::string, entry_info> base_entries;
      if (base) {
        for (const snapshot_info& s : store->list_snapshots()) {
          if (s.id == base) {
            for (const entry_info& e : s.entries) base_entries[e.key] = e;
          }
        }
      }
      snapshot_delta delta;
      std::set<std::string> touched;
      const std::size_t changes = 1 + pick(keys.size());
      for (std::size_t c = 0; c < changes; ++c) {
        const std::string& key = keys[pick(keys.size())];
        if (!touched.insert(key).second) continue;
        const int what = static_cast<int>(pick(10));
        if (what < 5 || base_entries.empty()) {  // new bytes
          // Some values large enough for a blob of their own (16 KiB on).
          auto bytes = pattern(8 * (pick(8) == 0 ? 2048 + pick(2048) : pick(600)), seed++);
          next[key] = bytes;
          delta.put.push_back(value_of(key, bytes));
        } else if (what < 7) {  // keep some base value (maybe another key's) under this key
          auto it = base_entries.begin();
          std::advance(it, pick(base_entries.size()));
          const entry_info& e = it->second;
          next[key] = models.at(base).at(e.key);
          delta.put.push_back(kept_value{key, e.schema, e.blob_id, e.offset, e.size_bytes, e.checksum, e.framed,
                                         e.key == key ? e.key_id : 0});
        } else if (next.count(key)) {  // remove
          next.erase(key);
          delta.remove.push_back(key);
        }
      }
      const snapshot_info info = store->write_snapshot(base, std::move(delta), pick(4) == 0);
      REQUIRE(info.id == (models.empty() ? 1 : models.rbegin()->first + 1));
      std::uint64_t bytes = 0;
      for (const auto& [key, value] : next) bytes += value.size();
      CHECK(info.total_bytes == bytes);
      models[info.id] = next;
      while (models.size() > keep) models.erase(models.begin());
      check_store(*store, models, keep);
      if (pick(15) == 0) {  // a new process would start from the records on disk
        store.reset();
        store = snapshot_store::open(tmp.path(), options);
        check_store(*store, models, keep);
      }
    }
  }
}

TEST_CASE("a kept value must be one a kept snapshot has, and keys are not put and removed at once") {
  scratch_dir tmp;
  store_options options;
  options.keep_generations = 1;
  auto store = snapshot_store::open(tmp.path(), options);
  const auto first = store->write_snapshot(0, {{value_of("a", pattern(64, 1)), value_of("b", pattern(64, 2))}, {}}, false);
  store->write_snapshot(first.id, {{value_of("a", pattern(64, 3))}, {}}, false);
  // Snapshot 1 is pruned: its "a" is nowhere any more.
  const entry_info& old_a = first.entries[0];
  snapshot_delta stale{{kept_value{"a", old_a.schema, old_a.blob_id, old_a.offset, 64}}, {}};
  CHECK_THROWS_AS(store->write_snapshot(2, std::move(stale), false), instadump::save_failed);
  snapshot_delta both{{value_of("b", pattern(8, 4))}, {"b"}};
  CHECK_THROWS_WITH(store->write_snapshot(2, std::move(both), false),
                    Catch::Contains("\"b\"") && Catch::Contains("remove"));
  CHECK_THROWS_WITH(store->write_snapshot(1, {}, false), Catch::Contains("not kept"));
  CHECK(store->newest()->id == 2);
  CHECK(read_all(*store, 2)["b"] == pattern(64, 2));
}

TEST_CASE("a save on the newest snapshot writes only what changed") {
  scratch_dir tmp;
  auto store = snapshot_store::open(tmp.path(), {});
  snapshot_delta all;
  for (int i = 0; i < 500; ++i) all.put.push_back(value_of("k" + std::to_string(i), pattern(64, i)));
  const auto first = store->write_snapshot(0, std::move(all), false);
  const auto before = store->stats();
  const auto second = store->write_snapshot(first.id, {{value_of("k7", pattern(64, 9999))}, {}}, false);
  REQUIRE(second.entries.size() == 1);
  CHECK(second.total_bytes == first.total_bytes);
  // One new blob of 64 bytes; the record of the change is small.
  CHECK(store->stats().live_bytes == before.live_bytes + 64);
  CHECK(store->stats().used_bytes - before.used_bytes <= 8 * 4096);
  auto read = read_all(*store, second.id);
  CHECK(read.size() == 500);
  CHECK(read["k7"] == pattern(64, 9999));
  CHECK(read["k8"] == pattern(64, 8));
}

TEST_CASE("the writer's view finds, diffs and updates like a plain search would") {
  std::mt19937_64 rng(99);
  for (int round = 0; round < 300; ++round) {
    CAPTURE(round);
    // A view of random size with gaps between its key ids, and a change that
    // keeps, replaces, adds and removes keys at random.
    std::map<std::uint64_t, stored_value> model;
    const std::size_t n = rng() % 70;
    for (std::uint64_t k = 1; model.size() < n; k += 1 + rng() % 4) {
      stored_value v;
      v.key_id = k;
      v.ref = value_ref{1, k * 8, rng() % 3 == 0 ? 0 : 8 + rng() % 100};
      v.checksum = rng();
      model[k] = v;
    }
    view_index view;
    view.assign(snapshot_view(std::views::values(model).begin(), std::views::values(model).end()));

    std::vector<stored_value> put;
    std::vector<std::uint64_t> removed;
    for (std::uint64_t k = 1; k < 4 * n + 8; ++k) {
      const int roll = static_cast<int>(rng() % 8);
      if (roll == 0 || (roll == 1 && model.count(k))) {  // new bytes
        stored_value v;
        v.key_id = k;
        v.ref = value_ref{2, k * 8, rng() % 100};
        v.checksum = rng();
        put.push_back(v);
      } else if (roll == 2 && model.count(k)) {  // the same value again
        put.push_back(model[k]);
      } else if (roll == 3) {  // removed (maybe a key the view lacks)
        removed.push_back(k);
      }
    }

    // seek agrees with lower_bound from every starting point.
    for (std::uint64_t k = 0; k < 4 * n + 8; k += 1 + rng() % 3) {
      auto from = view.begin() + static_cast<std::ptrdiff_t>(rng() % (view.size() + 1));
      while (from != view.begin() && std::prev(from)->key_id >= k) --from;
      auto expect = std::lower_bound(view.begin(), view.end(), k,
                                     [](const stored_value& v, std::uint64_t key) { return v.key_id < key; });
      CHECK(view.seek(from, k) == expect);
    }

    // change_of against the obvious computation.
    const view_change c = change_of(view, put, removed);
    std::vector<stored_value> changed;
    std::vector<std::uint64_t> gone;
    std::multiset<std::uint64_t> superseded;  // by offset (unique per value here)
    std::size_t added = 0;
    for (const stored_value& v : put) {
      auto it = model.find(v.key_id);
      if (it != model.end() && same_value(it->second, v)) continue;
      if (it != model.end() && it->second.ref.size != 0) superseded.insert(it->second.ref.offset);
      if (it == model.end()) ++added;
      changed.push_back(v);
    }
    for (std::uint64_t k : removed) {
      auto it = model.find(k);
      if (it == model.end()) continue;
      gone.push_back(k);
      if (it->second.ref.size != 0) superseded.insert(it->second.ref.offset);
    }
    CHECK(c.changed == changed);
    CHECK(c.removed == gone);
    CHECK(c.added == added);
    std::multiset<std::uint64_t> got;
    for (const stored_value& v : c.superseded) got.insert(v.ref.offset);
    CHECK(got == superseded);

    // apply (and with) give the view with the change made.
    for (std::uint64_t k : gone) model.erase(k);
    for (const stored_value& v : changed) model[v.key_id] = v;
    const snapshot_view expect(std::views::values(model).begin(), std::views::values(model).end());
    CHECK(view.with(c.changed, c.removed) == expect);
    view.apply(c.changed, c.removed);
    CHECK(view.values() == expect);
  }
}

// The rules a journaled save shares with the writer, without LMDB: key ids
// (key_assignment) and the plan of the next journaled snapshot
// (journal_planner). The journal tests check, end to end, that the writer
// then writes each snapshot where its plan said.
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "common/errors.h"
#include "storage/journal_planner.h"
#include "storage/key_assignment.h"
#include "storage/layout_rules.h"
#include "test_util.h"

using namespace instadump::storage;
using storage_test::pattern;
using storage_test::value_of;

namespace {

// A writer's state of a store whose newest snapshot 5 (created at 42) holds
// "a" (key id 1, 16 bytes in blob 3).
writer_state newest_holds_a() {
  writer_state w;
  w.chain.newest = 5;
  w.chain.oldest = 4;
  w.newest_created = 42;
  w.add_name(1, "a");
  w.next_key_id = 2;
  stored_value a;
  a.key_id = 1;
  a.ref = value_ref{3, 0, 16};
  w.chain.current.assign({a});
  w.chain.total_bytes = 16;
  return w;
}

}  // namespace

TEST_CASE("key ids: a value keeps the id it brings only when that id names it, and new names get ids in put order") {
  const std::vector<std::string> names = {"", "a", "b"};
  const name_map<std::uint64_t> ids = {{"a", 1}, {"b", 2}};
  key_assignment keys(names, ids, 3);
  CHECK(keys.find("a") == 1);
  CHECK(keys.find("b", 2) == 2);
  CHECK(keys.find("a", 2) == 1);  // id 2 names "b": the name decides
  CHECK(keys.find("a", 99) == 1);
  CHECK(keys.find("c") == 0);
  CHECK(keys.add("c") == 3);
  CHECK(keys.find("c") == 3);
  CHECK(keys.add("d") == 4);
  CHECK(keys.next_key_id() == 5);
  REQUIRE(keys.added().size() == 2);
  CHECK(keys.added()[0] == std::pair<std::uint64_t, std::string_view>{3, "c"});
  CHECK(keys.added()[1] == std::pair<std::uint64_t, std::string_view>{4, "d"});
  // Removed names: their ids, sorted, each once; names without one are in no snapshot.
  CHECK(keys.removed({"d", "x", "a", "d"}) == std::vector<std::uint64_t>{1, 4});
}

TEST_CASE("a key put twice, or put and removed, is refused naming it") {
  const std::vector<std::uint64_t> sorted = {1, 2, 2};
  auto id_of = [](std::uint64_t id) { return id; };
  auto name_of = [](std::uint64_t id) { return "key" + std::to_string(id); };
  CHECK_THROWS_WITH(refuse_repeated_keys(sorted, id_of, {}, name_of),
                    Catch::Contains("\"key2\" appears twice in one snapshot"));
  const std::vector<std::uint64_t> unique = {1, 2};
  CHECK_THROWS_WITH(refuse_repeated_keys(unique, id_of, {2}, name_of),
                    Catch::Contains("\"key2\" appears both as a value and as a key to remove"));
  CHECK_NOTHROW(refuse_repeated_keys(unique, id_of, {3}, name_of));
}

TEST_CASE("the journal plans the next snapshot as the writer lays it out: ids, one packed blob, offsets") {
  const writer_state w = newest_holds_a();
  journal_planner planner(1 << 20, 1, "/test-store");
  CHECK_FALSE(planner.planned());
  REQUIRE(journal_planner::can_follow(w));
  planner.reset(w, 7, 10);
  REQUIRE(planner.planned());
  CHECK(planner.total_bytes() == 16);

  snapshot_delta delta;
  delta.put.push_back(value_of("a", pattern(8, 1)));
  delta.put.push_back(value_of("b", pattern(16, 2)));
  std::optional<journal_plan> plan = planner.plan(5, delta, {});
  REQUIRE(plan);
  const journal_entry& e = plan->entry;
  CHECK(e.snapshot_id == 6);
  CHECK(e.base_id == 5);
  CHECK(e.base_created_unix_nanos == 42);
  CHECK(e.store_created_unix_nanos == 7);
  CHECK(e.blob_id == 10);
  CHECK(plan->blob_bytes == 24);
  REQUIRE(e.values.size() == 2);
  CHECK(e.values[0].key_id == 1);
  CHECK(e.values[0].offset == 0);
  CHECK(e.values[1].key_id == 2);
  CHECK(e.values[1].offset == 8);
  REQUIRE(e.new_keys.size() == 1);
  CHECK(e.new_keys[0] == std::pair<std::uint64_t, std::string>{2, "b"});

  // Once journaled, the plan follows it: the next snapshot, blob and key ids.
  planner.advance(e, std::move(plan->chunks));
  REQUIRE(planner.planned());
  CHECK(planner.total_bytes() == 24);  // "a" now 8 bytes, "b" 16
  snapshot_delta next;
  next.put.push_back(value_of("b", pattern(8, 3)));
  next.remove.push_back("a");
  plan = planner.plan(6, next, {});
  REQUIRE(plan);
  CHECK(plan->entry.snapshot_id == 7);
  CHECK(plan->entry.blob_id == 11);
  CHECK(plan->entry.values[0].key_id == 2);
  CHECK(plan->entry.new_keys.empty());
  CHECK(plan->entry.removed == std::vector<std::uint64_t>{1});
  planner.advance(plan->entry, std::move(plan->chunks));
  CHECK(planner.total_bytes() == 8);
}

TEST_CASE("what the writer would not pack into one blob on the newest snapshot is not journaled") {
  const writer_state w = newest_holds_a();
  journal_planner planner(1024, 1, "/test-store");
  planner.reset(w, 7, 10);
  REQUIRE(planner.planned());
  auto planned = [&](snapshot_delta delta, std::uint64_t base = 5) { return planner.plan(base, delta, {}).has_value(); };
  auto with = [](new_value v) {
    snapshot_delta d;
    d.put.push_back(std::move(v));
    return d;
  };

  CHECK(planned(with(value_of("a", pattern(8, 1)))));
  CHECK_FALSE(planned(with(value_of("a", pattern(8, 1))), 4));  // not on the newest
  CHECK_FALSE(planned(with(value_of("a", pattern(kPackedValueBytes, 1)))));  // a blob of its own
  CHECK_FALSE(planned(with(value_of("a", pattern(1032, 1)))));  // more than the journal takes
  new_value in_place = value_of("a", pattern(8, 1));
  in_place.fill_in_place = [](std::span<std::byte>) -> std::size_t { return 8; };
  CHECK_FALSE(planned(with(in_place)));
  snapshot_delta kept;
  kept.put.push_back(kept_value{"a", {7, 1}, 3, 0, 16, 0, false, 1});
  CHECK_FALSE(planned(kept));

  snapshot_delta twice;
  twice.put.push_back(value_of("b", pattern(8, 1)));
  twice.put.push_back(value_of("b", pattern(8, 2)));
  CHECK_THROWS_AS(planner.plan(5, twice, {}), instadump::save_failed);

  // Values in another order than their key ids' (a store restored from a
  // replicated copy numbers its keys by name): planned, and a key given
  // twice among them, or put and removed, is still refused by name.
  snapshot_delta unordered;
  for (const char* k : {"d", "c", "a", "b"}) unordered.put.push_back(value_of(k, pattern(8, 1)));
  CHECK(planner.plan(5, unordered, {}).has_value());
  unordered.put.push_back(value_of("c", pattern(8, 2)));
  CHECK_THROWS_WITH(planner.plan(5, unordered, {}), Catch::Contains("\"c\" appears twice"));
  unordered.put.pop_back();
  unordered.remove = {"a"};
  CHECK_THROWS_WITH(planner.plan(5, unordered, {}), Catch::Contains("\"a\" appears both as a value and as a key to remove"));
}

TEST_CASE("the journal does not plan from records the writer cannot trust") {
  writer_state w = newest_holds_a();
  w.intact = false;
  CHECK_FALSE(journal_planner::can_follow(w));
  journal_planner planner(1 << 20, 1, "/test-store");
  planner.reset(w, 7, 10);
  CHECK_FALSE(planner.planned());

  writer_state old_format = newest_holds_a();
  old_format.format = 2;
  planner.reset(old_format, 7, 10);
  CHECK_FALSE(planner.planned());

  // A plan that was good stops being one after a direct write.
  planner.reset(newest_holds_a(), 7, 10);
  REQUIRE(planner.planned());
  planner.invalidate();
  CHECK_FALSE(planner.planned());
}

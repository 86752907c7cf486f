// snapshot_shipper on its own, against a local store and a PostgreSQL copy:
// the snapshots the saves hand over are shipped from memory when they
// continue the copy's newest, those the store pruned merged into the first
// one it kept; a run with a gap falls back to reading the store. Each
// replicated snapshot must hold exactly the local one's values.
#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pg_server.h"
#include "replication/replicated_copy.h"
#include "replication/saved_snapshot.h"
#include "replication/snapshot_shipper.h"
#include "storage/snapshot_store.h"
#include "temp_dir.h"

namespace {

using instadump::replication::replicated_copy;
using instadump::replication::saved_snapshot;
using instadump::replication::key_table;
using instadump::replication::snapshot_shipper;
namespace storage = instadump::storage;

pg_test::pg_server& server() {
  static pg_test::pg_server pg;
  return pg;
}

// A value's bytes: one word holding `v`.
std::vector<std::byte> word(std::uint64_t v) {
  std::vector<std::byte> b(8);
  for (int i = 0; i < 8; ++i) b[i] = static_cast<std::byte>(v >> (8 * i));
  return b;
}

using values = std::map<std::string, std::vector<std::byte>>;

// A local store (keeping two snapshots) whose saves are written the way a
// session writes them and handed over as saved_snapshots.
class saving_store {
 public:
  explicit saving_store(const test_util::temp_dir& dir)
      : store_(storage::snapshot_store::open(dir.db(), {.keep_generations = 2})) {}

  // Writes `put` and `remove` on top of snapshot `base` (0: `put` is the
  // whole snapshot); returns the new snapshot's id.
  std::uint64_t save(std::uint64_t base, const std::vector<std::pair<std::string, std::uint64_t>>& put,
                     const std::vector<std::string>& remove = {}) {
    auto& kept = bytes_.emplace_back();  // alive as long as the test: the saved snapshots point here
    // Gone when this returns: own() points the saved keys into the table
    // (ASan would see a key read from here afterwards).
    std::vector<std::string> keys;
    storage::snapshot_delta delta;
    delta.remove = remove;
    for (const auto& [key, v] : put) {
      keys.push_back(key);
      kept.push_back(word(v));
    }
    for (std::size_t i = 0; i < put.size(); ++i) {
      storage::new_value n;
      n.key = keys[i];
      n.schema = {7, 1};
      n.size_bytes = 8;
      n.bytes = kept[i];
      delta.put.emplace_back(std::move(n));
    }
    saved_snapshot s;
    s.info = store_->write_snapshot(base, std::move(delta), true, {});
    s.base_id = base;
    s.removed = remove;
    for (std::size_t i = 0; i < put.size(); ++i) {
      s.keys.push_back(keys[i]);
      s.bytes.emplace_back(std::span<const std::byte>(kept[i]));
    }
    s.own(key_table_);  // as the async sender holds it
    saved_.push_back(std::move(s));
    return saved_.back().info.id;
  }

  // The values of local snapshot `id` (one the store keeps).
  values local(std::uint64_t id) const {
    values out;
    store_->read_snapshot(id, [&](const storage::entry_info& e, kj::ArrayPtr<const capnp::word> words) {
      auto b = words.asBytes();
      out[e.key] = std::vector<std::byte>(reinterpret_cast<const std::byte*>(b.begin()),
                                          reinterpret_cast<const std::byte*>(b.end()));
    });
    return out;
  }

  storage::snapshot_store& store() { return *store_; }
  // The handed-over snapshots [from, to) (indexes of the saves, from 0).
  std::span<const saved_snapshot> handed(std::size_t from, std::size_t to) const {
    return std::span<const saved_snapshot>(saved_).subspan(from, to - from);
  }

 private:
  std::unique_ptr<storage::snapshot_store> store_;
  std::vector<std::vector<std::vector<std::byte>>> bytes_;
  key_table key_table_;
  std::vector<saved_snapshot> saved_;
};

// The values of the copy's snapshot with local id `local_id`.
values replicated(replicated_copy& copy, const std::string& store, std::uint64_t local_id) {
  const std::string seq = server().psql("select seq from instadump.snapshots where store = '" + store +
                                        "' and local_id = " + std::to_string(local_id));
  REQUIRE_FALSE(seq.empty());
  values out;
  copy.read_values(std::stoull(seq), [&](std::string_view key, const auto&, std::span<const std::byte> bytes) {
    out[std::string(key)] = std::vector<std::byte>(bytes.begin(), bytes.end());
  });
  return out;
}

std::string shipped(const std::string& store) {
  return server().psql("select string_agg(local_id::text, ',' order by seq) from instadump.snapshots where store = '" +
                       store + "'");
}

values expect(const std::vector<std::pair<std::string, std::uint64_t>>& v) {
  values out;
  for (const auto& [k, x] : v) out[k] = word(x);
  return out;
}

// A local store and its copy in PostgreSQL under a store name of its own,
// with a shipper attached to the copy (which holds the lease).
class shipping {
 public:
  shipping() : copy(server().url(), name) {
    REQUIRE(copy.try_take_lease());
    shipper.attach(copy);
  }

 protected:
  const std::string name = "shipper-" + std::to_string(++created);
  test_util::temp_dir dir;
  saving_store local{dir};
  replicated_copy copy;
  snapshot_shipper shipper{local.store()};

 private:
  static inline int created = 0;
};

}  // namespace

TEST_CASE_METHOD(shipping,
                 "shipper: saves behind the copy are shipped from memory, the pruned ones merged into the first kept",
                 "[replication][shipper]") {
  local.save(0, {{"a", 1}, {"b", 1}, {"c", 1}});
  local.save(1, {{"a", 2}}, {"c"});
  local.save(2, {{"c", 3}, {"d", 3}});   // c back after its removal
  local.save(3, {{"b", 4}}, {"d"});
  local.save(4, {{"a", 5}, {"e", 5}});
  // The store keeps 4 and 5; 1..3 go with 4 (the copy never had them).
  CHECK(shipper.ship_until(copy, 5, local.handed(0, 5)) == 2);
  CHECK(shipped(name) == "4,5");
  CHECK(shipper.last_shipped() == 5);
  CHECK(replicated(copy, name, 4) == expect({{"a", 2}, {"b", 4}, {"c", 3}}));
  CHECK(replicated(copy, name, 4) == local.local(4));
  CHECK(replicated(copy, name, 5) == local.local(5));

  // One more, on top of what the copy has.
  local.save(5, {{"b", 6}}, {"a"});
  CHECK(shipper.ship_until(copy, 6, local.handed(5, 6)) == 1);
  CHECK(replicated(copy, name, 6) == expect({{"b", 6}, {"c", 3}, {"e", 5}}));
}

TEST_CASE_METHOD(shipping, "shipper: a whole snapshot in the run replaces what came before it",
                 "[replication][shipper]") {
  local.save(0, {{"a", 1}, {"b", 1}});
  CHECK(shipper.ship_until(copy, 1, local.handed(0, 1)) == 1);
  local.save(1, {{"c", 2}});
  local.save(0, {{"a", 3}, {"x", 3}});  // whole (as after a reload of an older snapshot): b and c are gone
  local.save(3, {{"y", 4}}, {"x"});
  CHECK(shipper.ship_until(copy, 4, local.handed(1, 4)) == 2);
  CHECK(shipped(name) == "1,3,4");
  CHECK(replicated(copy, name, 3) == expect({{"a", 3}, {"x", 3}}));
  CHECK(replicated(copy, name, 4) == local.local(4));
}

TEST_CASE_METHOD(shipping, "shipper: handed-over saves with a gap are shipped by reading the store",
                 "[replication][shipper]") {
  local.save(0, {{"a", 1}, {"b", 1}});
  CHECK(shipper.ship_until(copy, 1, local.handed(0, 1)) == 1);
  local.save(1, {{"a", 2}});
  local.save(2, {{"b", 3}});
  local.save(3, {{"c", 4}}, {"a"});
  // Snapshot 2 was not handed over (a sender's queue that overflowed).
  CHECK(shipper.ship_until(copy, 4, local.handed(2, 4)) == 2);
  CHECK(shipped(name) == "1,3,4");
  CHECK(replicated(copy, name, 3) == local.local(3));
  CHECK(replicated(copy, name, 4) == expect({{"b", 3}, {"c", 4}}));
}

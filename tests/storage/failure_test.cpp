// Failed saves and damaged data: a throwing fill, a failed flush (poisoned
// store), a full disk (RLIMIT_FSIZE), and flipped bytes in a stored blob.
#include <catch2/catch.hpp>

#include <lmdb.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "common/errors.h"
#include "storage/test_hooks.h"
#include "test_util.h"

using namespace instadump::storage;
using storage_test::pattern;
using storage_test::read_all;
using storage_test::run_in_child;
using storage_test::scratch_dir;
using storage_test::one_value;
using storage_test::value_of;
using storage_test::values_t;
using storage_test::be_key;
using storage_test::tamper;

namespace {

std::vector<char> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
}  // namespace

TEST_CASE("a throwing fill aborts the write and earlier snapshots stay and the next write succeeds") {
  scratch_dir tmp;
  auto store = snapshot_store::open(tmp.path(), {});
  store->write_snapshot(one_value("a", 64, 1), true);
  values_t values = one_value("ok", 4096, 2);
  new_value bad;
  bad.key = "bad";
  bad.size_bytes = 8;
  bad.fill = [](std::span<std::byte>) { throw std::logic_error("serializer failed"); };
  values.push_back(std::move(bad));
  try {
    store->write_snapshot(std::move(values), true);
    FAIL("write succeeded");
  } catch (const instadump::save_failed& e) {
    CHECK_THAT(e.what(), Catch::Contains("\"bad\""));
    CHECK_THROWS_WITH(std::rethrow_if_nested(e), "serializer failed");
  }
  CHECK_FALSE(store->poisoned());
  CHECK(store->list_snapshots().size() == 1);
  CHECK(store->stats().blob_count == 1);
  CHECK(store->write_snapshot(one_value("a", 64, 3), true).id == 2);
}

TEST_CASE("a failed flush poisons the store and after reopening the snapshots load") {
  scratch_dir tmp;
  auto store = snapshot_store::open(tmp.path(), {});
  store->write_snapshot(one_value("a", 64, 1), true);
  testing::fail_next_sync(EIO);
  CHECK_THROWS_AS(store->write_snapshot(one_value("a", 64, 2), true), instadump::save_failed);
  CHECK(store->poisoned());
  try {
    store->write_snapshot(one_value("a", 64, 3), true);
    FAIL("poisoned store wrote");
  } catch (const instadump::save_failed& e) {
    CHECK_THAT(e.what(), Catch::Contains("reopen"));
  }
  CHECK_THROWS_AS(store->write_snapshot(one_value("a", 64, 3), false), instadump::save_failed);
  store.reset();
  auto reopened = snapshot_store::open(tmp.path(), {});
  CHECK_FALSE(reopened->poisoned());
  CHECK(read_all(*reopened, 1)["a"] == pattern(64, 1));
  const auto newest = reopened->newest();
  REQUIRE(newest);
  CHECK_NOTHROW(read_all(*reopened, newest->id));
  CHECK(reopened->write_snapshot(one_value("a", 64, 4), true).id == newest->id + 1);
}

TEST_CASE("a full disk (RLIMIT_FSIZE) fails the save and the older snapshot is intact after reopening") {
  scratch_dir tmp;
  { snapshot_store::open(tmp.path(), {})->write_snapshot(one_value("a", 4096, 1), true); }
  const auto limit = std::filesystem::file_size(tmp / "data.mdb");
  const int child = run_in_child([&] {
    ::signal(SIGXFSZ, SIG_IGN);  // get EFBIG instead of being killed
    rlimit rl{limit, RLIM_INFINITY};
    if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) return false;
    auto store = snapshot_store::open(tmp.path(), {});
    try {
      store->write_snapshot(one_value("big", 4 << 20, 2), true);
      return false;
    } catch (const instadump::save_failed&) {
    }
    if (store->poisoned() || store->newest()->id != 1) return false;
    // Space is back: the same store writes again (a full disk does not poison it).
    rl.rlim_cur = RLIM_INFINITY;
    if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) return false;
    return store->write_snapshot(one_value("big", 4 << 20, 3), true).id == 2;
  });
  CHECK(child == 0);
  auto store = snapshot_store::open(tmp.path(), {});
  REQUIRE(store->newest());
  CHECK(store->newest()->id == 2);
  CHECK(read_all(*store, 1)["a"] == pattern(4096, 1));
  CHECK(read_all(*store, 2)["big"] == pattern(4 << 20, 3));
}

TEST_CASE("flipped bytes in a blob are reported as corrupt_data naming key and snapshot") {
  scratch_dir tmp;
  const auto old_bytes = pattern(8192, 1);
  const auto new_bytes = pattern(8192, 2);
  {
    auto store = snapshot_store::open(tmp.path(), {});
    store->write_snapshot(one_value("state", 8192, 1), true);
    store->write_snapshot(one_value("state", 8192, 2), true);
  }
  // Patch data.mdb where the newest value's bytes are.
  {
    auto file = read_file(tmp / "data.mdb");
    const auto* needle = reinterpret_cast<const char*>(new_bytes.data());
    auto at = std::search(file.begin(), file.end(), needle, needle + 64);
    REQUIRE(at != file.end());
    std::fstream out(tmp / "data.mdb", std::ios::in | std::ios::out | std::ios::binary);
    out.seekp((at - file.begin()) + 100);
    const char flipped = static_cast<char>(at[100] ^ 0x5a);
    out.write(&flipped, 1);
  }
  auto store = snapshot_store::open(tmp.path(), {});
  int visited = 0;
  try {
    store->read_snapshot(2, [&](const entry_info&, kj::ArrayPtr<const capnp::word>) { ++visited; });
    FAIL("corruption not detected");
  } catch (const instadump::corrupt_data& e) {
    CHECK_THAT(e.what(), Catch::Contains("\"state\"") && Catch::Contains("snapshot 2"));
  }
  CHECK(visited == 0);  // verification happens before any visit
  CHECK(read_all(*store, 1)["state"] == old_bytes);
}

namespace {
std::string read_error(const snapshot_store& store, std::uint64_t id) {
  try {
    read_all(store, id);
  } catch (const instadump::corrupt_data& e) {
    return e.what();
  }
  FAIL("damage not detected");
  return {};
}
}  // namespace

TEST_CASE("missing or truncated blobs and damaged manifests are corrupt_data and other snapshots still load") {
  scratch_dir tmp;
  snapshot_info second;
  {
    auto store = snapshot_store::open(tmp.path(), {});
    store->write_snapshot(one_value("state", 4096, 1), true);
    second = store->write_snapshot(one_value("state", 4096, 2), true);
  }
  const std::uint64_t blob = second.entries[0].blob_id;
  SECTION("missing blob") {
    tamper(tmp.path(), [&](MDB_txn* txn, const auto& dbi) {
      const MDB_dbi blobs = dbi("blobs");
      unsigned char buf[8];
      MDB_val k = be_key(blob, buf);
      REQUIRE(mdb_del(txn, blobs, &k, nullptr) == 0);
    });
    auto store = snapshot_store::open(tmp.path(), {});
    CHECK_THAT(read_error(*store, 2), Catch::Contains("missing") && Catch::Contains("\"state\"") &&
                                          Catch::Contains("snapshot 2"));
    CHECK(read_all(*store, 1)["state"] == pattern(4096, 1));
  }
  SECTION("truncated blob") {
    tamper(tmp.path(), [&](MDB_txn* txn, const auto& dbi) {
      const MDB_dbi blobs = dbi("blobs");
      unsigned char buf[8];
      MDB_val k = be_key(blob, buf);
      auto shorter = pattern(4000, 2);
      MDB_val v{shorter.size(), shorter.data()};
      REQUIRE(mdb_put(txn, blobs, &k, &v, 0) == 0);
    });
    auto store = snapshot_store::open(tmp.path(), {});
    CHECK_THAT(read_error(*store, 2), Catch::Contains("4000 bytes long") && Catch::Contains("snapshot 2"));
    CHECK(read_all(*store, 1)["state"] == pattern(4096, 1));
  }
  SECTION("damaged manifest") {
    tamper(tmp.path(), [&](MDB_txn* txn, const auto& dbi) {
      const MDB_dbi snapshots = dbi("snapshots");
      unsigned char buf[8];
      MDB_val k = be_key(2, buf);
      auto junk = pattern(48, 9);
      MDB_val v{junk.size(), junk.data()};
      REQUIRE(mdb_put(txn, snapshots, &k, &v, 0) == 0);
    });
    auto store = snapshot_store::open(tmp.path(), {});
    CHECK_THAT(read_error(*store, 2), Catch::Contains("snapshot 2"));
    CHECK_THROWS_AS(store->list_snapshots(), instadump::corrupt_data);
    CHECK(store->snapshot_ids() == std::vector<std::uint64_t>{2, 1});
    CHECK(read_all(*store, 1)["state"] == pattern(4096, 1));
    // A damaged old manifest does not block saving; it is pruned in turn.
    CHECK(store->write_snapshot(one_value("state", 4096, 3), true).id == 3);
    CHECK(store->write_snapshot(one_value("state", 4096, 4), true).id == 4);
    CHECK(store->snapshot_ids() == std::vector<std::uint64_t>{4, 3});
    CHECK(store->list_snapshots().size() == 2);
  }
}

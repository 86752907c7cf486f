// Failed saves and damaged data: a throwing fill, a failed flush (poisoned
// store), a full disk (RLIMIT_FSIZE), and flipped bytes in a stored blob.
#include <catch2/catch.hpp>

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
using storage_test::value_of;

namespace {
using values_t = std::vector<std::variant<new_value, kept_value>>;

values_t one_value(const char* key, std::size_t size, std::uint64_t seed) {
  values_t values;
  values.push_back(value_of(key, pattern(size, seed)));
  return values;
}

std::vector<char> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
}  // namespace

TEST_CASE("a throwing fill aborts the write; earlier snapshots stay and the next write succeeds") {
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

TEST_CASE("a failed flush poisons the store; after reopening the snapshots load") {
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

TEST_CASE("a full disk (RLIMIT_FSIZE) fails the save; the older snapshot is intact after reopening") {
  scratch_dir tmp;
  { snapshot_store::open(tmp.path(), {})->write_snapshot(one_value("a", 4096, 1), true); }
  const auto limit = std::filesystem::file_size(tmp / "data.mdb");
  const int child = run_in_child([&] {
    ::signal(SIGXFSZ, SIG_IGN);  // get EFBIG instead of being killed
    rlimit rl{limit, limit};
    if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) return false;
    auto store = snapshot_store::open(tmp.path(), {});
    try {
      store->write_snapshot(one_value("big", 4 << 20, 2), true);
    } catch (const instadump::save_failed& e) {
      return true;
    }
    return false;
  });
  CHECK(child == 0);
  auto store = snapshot_store::open(tmp.path(), {});
  REQUIRE(store->newest());
  CHECK(store->newest()->id == 1);
  CHECK(read_all(*store, 1)["a"] == pattern(4096, 1));
  CHECK(store->write_snapshot(one_value("big", 4 << 20, 2), true).id == 2);
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

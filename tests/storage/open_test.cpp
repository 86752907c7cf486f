// open(): directory creation and permissions, refusal of things that are not
// (usable) Instadump stores, close-on-exec descriptors, option checks.
#include <catch2/catch.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "common/errors.h"
#include "test_util.h"

using namespace instadump::storage;
using storage_test::scratch_dir;

namespace {

unsigned mode_of(const std::filesystem::path& p) {
  struct stat st;
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

std::string open_error(const std::filesystem::path& dir, store_options options = {}) {
  try {
    snapshot_store::open(dir, options);
  } catch (const instadump::open_failed& e) {
    return e.what();
  }
  FAIL("open() did not throw open_failed");
  return {};
}

// Runs f(txn, env) in a write transaction of a raw LMDB environment in dir.
template <typename F>
void with_raw_lmdb(const std::filesystem::path& dir, F&& f) {
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == 0);
  REQUIRE(mdb_env_set_maxdbs(env, 8) == 0);
  REQUIRE(mdb_env_open(env, dir.c_str(), 0, 0600) == 0);
  MDB_txn* txn = nullptr;
  REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
  f(txn);
  REQUIRE(mdb_txn_commit(txn) == 0);
  mdb_env_close(env);
}

void put(MDB_txn* txn, MDB_dbi dbi, const std::string& key, std::span<const std::byte> value) {
  MDB_val k{key.size(), const_cast<char*>(key.data())};
  MDB_val v{value.size(), const_cast<std::byte*>(value.data())};
  REQUIRE(mdb_put(txn, dbi, &k, &v, 0) == 0);
}

std::span<const std::byte> words_span(const kj::Array<capnp::word>& words) {
  return {reinterpret_cast<const std::byte*>(words.begin()), words.size() * sizeof(capnp::word)};
}

}  // namespace

TEST_CASE("open creates a missing directory 0700 with 0600 files and reopens it") {
  scratch_dir tmp;
  const auto dir = tmp / "a/b/store";
  {
    auto store = snapshot_store::open(dir, {});
    CHECK(store->directory() == dir);
    CHECK_FALSE(store->read_only());
    CHECK_FALSE(store->newest().has_value());
    CHECK(store->list_snapshots().empty());
  }
  CHECK(mode_of(dir) == 0700);
  CHECK(mode_of(dir / "data.mdb") == 0600);
  CHECK(mode_of(dir / "lock.mdb") == 0600);
  CHECK(mode_of(dir / "instadump.lock") == 0600);
  auto again = snapshot_store::open(dir, {});
  CHECK_FALSE(again->newest().has_value());
  // A trailing slash names the same kind of directory.
  { snapshot_store::open(tmp.path().string() + "/c/d/", {}); }
  CHECK(mode_of(tmp / "c/d") == 0700);
}

TEST_CASE("open refuses a path that is a file or lies under a file") {
  scratch_dir tmp;
  std::ofstream(tmp / "file") << "x";
  CHECK_THAT(open_error(tmp / "file"), Catch::Contains("is not a directory"));
  CHECK_THAT(open_error(tmp / "file" / "store"), Catch::Contains("file"));
}

TEST_CASE("read-only open needs an existing store") {
  scratch_dir tmp;
  store_options ro;
  ro.read_only = true;
  CHECK_THAT(open_error(tmp / "missing", ro), Catch::Contains("open it writable once"));
  CHECK_THAT(open_error(tmp.path(), ro), Catch::Contains("no store"));
  { snapshot_store::open(tmp.path(), {}); }
  auto store = snapshot_store::open(tmp.path(), ro);
  CHECK(store->read_only());
  CHECK_THROWS_AS(store->write_snapshot({}, false), instadump::save_failed);
}

TEST_CASE("open refuses a data.mdb that is not LMDB") {
  scratch_dir tmp;
  {
    std::ofstream out(tmp / "data.mdb", std::ios::binary);
    out << std::string(64 * 1024, 'z');
  }
  CHECK_THAT(open_error(tmp.path()), Catch::Contains("not an LMDB database"));
}

TEST_CASE("open refuses an LMDB environment that is not an Instadump store") {
  scratch_dir tmp;
  SECTION("plain keys in the main database") {
    with_raw_lmdb(tmp.path(), [](MDB_txn* txn) {
      MDB_dbi main_db;
      REQUIRE(mdb_dbi_open(txn, nullptr, 0, &main_db) == 0);
      auto bytes = storage_test::pattern(16, 1);
      put(txn, main_db, "someone-else", bytes);
    });
    CHECK_THAT(open_error(tmp.path()), Catch::Contains("not an Instadump store"));
  }
  SECTION("a meta database without the meta record") {
    with_raw_lmdb(tmp.path(), [](MDB_txn* txn) {
      MDB_dbi meta;
      REQUIRE(mdb_dbi_open(txn, "meta", MDB_CREATE, &meta) == 0);
      auto bytes = storage_test::pattern(16, 1);
      put(txn, meta, "other", bytes);
    });
    CHECK_THAT(open_error(tmp.path()), Catch::Contains("no Instadump meta record"));
  }
  SECTION("a meta record with the wrong magic") {
    with_raw_lmdb(tmp.path(), [](MDB_txn* txn) {
      MDB_dbi meta;
      REQUIRE(mdb_dbi_open(txn, "meta", MDB_CREATE, &meta) == 0);
      auto junk = encode_manifest(snapshot_info{});
      put(txn, meta, "store", words_span(junk));
    });
    CHECK_THAT(open_error(tmp.path()), Catch::Contains("not a usable Instadump store"));
  }
}

TEST_CASE("open refuses a store written by a newer format version") {
  scratch_dir tmp;
  { snapshot_store::open(tmp.path(), {}); }
  with_raw_lmdb(tmp.path(), [](MDB_txn* txn) {
    MDB_dbi meta;
    REQUIRE(mdb_dbi_open(txn, "meta", 0, &meta) == 0);
    auto newer = encode_store_meta(store_meta{format_version + 1, 0});
    put(txn, meta, "store", words_span(newer));
  });
  const std::string message = open_error(tmp.path());
  CHECK_THAT(message, Catch::Contains("upgrade Instadump"));
  CHECK_THAT(message, Catch::Contains(tmp.path().string()));
}

TEST_CASE("a second open of one directory in the same process is refused") {
  scratch_dir tmp;
  auto writer = snapshot_store::open(tmp.path(), {});
  store_options ro;
  ro.read_only = true;
  for (const store_options& options : {store_options{}, ro}) {
    try {
      snapshot_store::open(tmp.path(), options);
      FAIL("second open succeeded");
    } catch (const instadump::open_failed& e) {
      CHECK_THAT(e.what(), Catch::Contains(tmp.path().string()) && Catch::Contains("already open in this process"));
    }
  }
  // Through another spelling of the same directory too.
  CHECK_THROWS_AS(snapshot_store::open(tmp.path() / "." / "", ro), instadump::open_failed);
  writer.reset();
  CHECK_NOTHROW(snapshot_store::open(tmp.path(), ro));
}

TEST_CASE("every descriptor into the store directory is close-on-exec") {
  scratch_dir tmp;
  auto store = snapshot_store::open(tmp.path(), {});
  const std::string prefix = std::filesystem::canonical(tmp.path()).string() + "/";
  int checked = 0;
  for (const auto& fd_entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    const auto target = std::filesystem::read_symlink(fd_entry.path(), ec);
    if (ec || !target.string().starts_with(prefix)) continue;
    const int fd = std::stoi(fd_entry.path().filename().string());
    const int flags = ::fcntl(fd, F_GETFD);
    if (flags < 0) continue;  // the directory iterator's own descriptor, already closed
    INFO(target.string());
    CHECK((flags & FD_CLOEXEC) != 0);
    ++checked;
  }
  CHECK(checked >= 3);  // data.mdb, lock.mdb, instadump.lock
}

TEST_CASE("open refuses options out of range, naming the option, the value and what is allowed") {
  scratch_dir tmp;
  auto refused = [&](store_options bad) -> std::string {
    try {
      snapshot_store::open(tmp.path(), bad);
    } catch (const instadump::invalid_option& e) {
      return e.what();
    }
    return "(opened)";
  };
  store_options no_generations;
  no_generations.keep_generations = 0;
  CHECK_THAT(refused(no_generations), Catch::Contains("store_options.keep_generations is 0") &&
                                          Catch::Contains("at least 1"));
  store_options no_map;
  no_map.initial_map_size = 0;
  CHECK_THAT(refused(no_map), Catch::Contains("store_options.initial_map_size is 0") &&
                                  Catch::Contains("more than 0"));
  store_options small_journal;
  small_journal.journal_bytes = 1000;
  CHECK_THAT(refused(small_journal), Catch::Contains("store_options.journal_bytes is 1000") &&
                                         Catch::Contains("at least 65536"));
  // Nothing was created or locked: the directory still opens.
  CHECK_FALSE(std::filesystem::exists(tmp / "data.mdb"));
  small_journal.journal = false;  // (the size does not matter without a journal)
  CHECK(snapshot_store::open(tmp.path(), small_journal)->read_only() == false);
}

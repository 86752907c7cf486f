// The check of data.mdb against its own header (storage/data_file_check.h):
// it reads what LMDB reads, and refuses a truncated file, a file that is not
// LMDB and a damaged second header page before LMDB maps anything.
// (Truncations at many sizes, each opened by a fresh process, are in
// tests/faults/truncation_test.cpp.)
#include <catch2/catch.hpp>

#include <lmdb.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/errors.h"
#include "storage/data_file_check.h"
#include "test_util.h"

using namespace instadump::storage;
using storage_test::one_value;
using storage_test::scratch_dir;

namespace {

// A closed store of a few snapshots with values of a few pages each.
void make_store(const std::filesystem::path& dir) {
  store_options options;
  options.journal = false;
  auto store = snapshot_store::open(dir, options);
  for (std::uint64_t i = 1; i <= 4; ++i) store->write_snapshot(one_value("a", 40000, i), true);
}

std::uint64_t size_of(const std::filesystem::path& p) { return std::filesystem::file_size(p); }

void resize(const std::filesystem::path& p, std::uint64_t size) { std::filesystem::resize_file(p, size); }

void overwrite(const std::filesystem::path& p, std::uint64_t offset, const std::string& bytes) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

template <typename Error>
std::string message_of(const std::filesystem::path& dir) {
  try {
    check_data_file(dir);
  } catch (const Error& e) {
    return e.what();
  }
  FAIL("check_data_file did not throw the expected error");
  return {};
}

}  // namespace

TEST_CASE("the header check reads the page size, last page and transaction LMDB itself reports") {
  scratch_dir tmp;
  make_store(tmp.path());
  const auto header = check_data_file(tmp.path());
  REQUIRE(header);
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == 0);
  REQUIRE(mdb_env_open(env, tmp.path().c_str(), MDB_RDONLY, 0600) == 0);
  MDB_envinfo info;
  MDB_stat st;
  REQUIRE(mdb_env_info(env, &info) == 0);
  REQUIRE(mdb_env_stat(env, &st) == 0);
  mdb_env_close(env);
  CHECK(header->page_size == st.ms_psize);
  CHECK(header->last_page == info.me_last_pgno);
  CHECK(header->txnid == info.me_last_txnid);
  CHECK(header->file_bytes == size_of(tmp / "data.mdb"));
  CHECK(header->needed_bytes() <= header->file_bytes);
}

TEST_CASE("a data.mdb that lacks pages in use is a truncated_store naming both sizes") {
  scratch_dir tmp;
  make_store(tmp.path());
  const auto header = check_data_file(tmp.path());
  REQUIRE(header);
  // The two header pages and half a page: every tree's root is gone.
  const std::uint64_t cut = 2 * std::uint64_t{header->page_size} + header->page_size / 2;
  resize(tmp / "data.mdb", cut);
  const std::string text = message_of<instadump::truncated_store>(tmp.path());
  CHECK_THAT(text, Catch::Contains((tmp / "data.mdb").string()) && Catch::Contains(std::to_string(cut)) &&
                       Catch::Contains(std::to_string(header->needed_bytes())) &&
                       Catch::Contains("restore the whole file from a backup", Catch::CaseSensitive::No));
  CHECK_THAT(text, !Catch::Contains("empty directory"));
  // So is every cut below the header pages, down to an empty file.
  for (std::uint64_t size : {std::uint64_t{4096} + 100, std::uint64_t{4096}, std::uint64_t{151}, std::uint64_t{0}}) {
    resize(tmp / "data.mdb", size);
    INFO("size " << size);
    CHECK_THROWS_AS(check_data_file(tmp.path()), instadump::truncated_store);
  }
}

TEST_CASE("only a data.mdb read completely without an LMDB header is called not an LMDB database") {
  scratch_dir tmp;
  { std::ofstream(tmp / "data.mdb") << std::string(8192, 'x'); }
  const std::string text = message_of<instadump::open_failed>(tmp.path());
  CHECK_THAT(text, Catch::Contains("not an LMDB database") && Catch::Contains("read completely") &&
                       Catch::Contains("restore it from a backup"));
  // Opening the store says the same, and leaves the file alone.
  CHECK_THROWS_AS(snapshot_store::open(tmp.path(), {}), instadump::open_failed);
  CHECK(size_of(tmp / "data.mdb") == 8192);
}

TEST_CASE("a damaged second header page is corrupt_data, not a foreign file") {
  scratch_dir tmp;
  make_store(tmp.path());
  const auto header = check_data_file(tmp.path());
  REQUIRE(header);
  overwrite(tmp / "data.mdb", header->page_size + 16, "garbage!");
  const std::string text = message_of<instadump::corrupt_data>(tmp.path());
  CHECK_THAT(text, Catch::Contains("second header page") && !Catch::Contains("not an LMDB database"));
}

TEST_CASE("opening a truncated store throws truncated_store and changes nothing") {
  scratch_dir tmp;
  make_store(tmp.path());
  const auto header = check_data_file(tmp.path());
  REQUIRE(header);
  const std::uint64_t cut = 3 * std::uint64_t{header->page_size};
  resize(tmp / "data.mdb", cut);
  CHECK_THROWS_AS(snapshot_store::open(tmp.path(), {}), instadump::truncated_store);
  store_options ro;
  ro.read_only = true;
  CHECK_THROWS_AS(snapshot_store::open(tmp.path(), ro), instadump::truncated_store);
  CHECK(size_of(tmp / "data.mdb") == cut);
}

TEST_CASE("a data.mdb shorter than its header's last page only by pages nothing uses opens") {
  // LMDB does not write pages it freed in the transaction that allocated
  // them, so a healthy file can end before the header's last page (seen
  // after a writer was killed). Here the headers claim three pages more.
  scratch_dir tmp;
  make_store(tmp.path());
  const auto header = check_data_file(tmp.path());
  REQUIRE(header);
  const std::uint64_t claimed = header->last_page + 3;
  const std::string bytes(reinterpret_cast<const char*>(&claimed), sizeof claimed);
  overwrite(tmp / "data.mdb", 136, bytes);
  overwrite(tmp / "data.mdb", header->page_size + 136, bytes);
  const auto claimed_header = check_data_file(tmp.path());
  REQUIRE(claimed_header);
  CHECK(claimed_header->needed_bytes() > claimed_header->file_bytes);
  store_options ro;
  ro.read_only = true;
  auto store = snapshot_store::open(tmp.path(), ro);
  std::size_t values = 0;
  store->read_snapshot(4, [&](const entry_info&, kj::ArrayPtr<const capnp::word>) { ++values; });
  CHECK(values == 1);
}

// The entry column of instadump.entries (replication/entry_column.h): what
// is written reads back the same, whole or as its head (also as PostgreSQL
// computes the head), and bytes that are no entry are a replication_error
// naming the row, never misread.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/errors.h"
#include "pg_server.h"
#include "replication/entry_column.h"
#include "replication/pg_connection.h"
#include "replication/pg_schema.h"

using instadump::replication::copy_entry;
using instadump::replication::decode_entry;
using instadump::replication::decode_entry_head;
using instadump::replication::entry_bytes;
using instadump::replication::entry_head_sql;
using instadump::replication::kEntryFixedHeadBytes;
using instadump::replication::kRemovedEntry;
using instadump::replication::write_entry;

namespace {

std::vector<std::byte> bytes_of(const std::string& s) {
  std::vector<std::byte> out;
  for (char c : s) out.push_back(static_cast<std::byte>(c));
  return out;
}

std::vector<std::byte> entry_of(const copy_entry& e, const std::vector<std::byte>& value) {
  std::vector<std::byte> out(entry_bytes(e, value.size()));
  write_entry(out, e, value);
  return out;
}

copy_entry sample(std::vector<std::uint64_t> roots = {}) {
  copy_entry e;
  e.schema = {0x8877665544332211ull, 7};
  e.checksum = 0xfedcba9876543210ull;
  e.framed = true;
  e.chunk_roots = std::move(roots);
  return e;
}

void check_refused(const std::vector<std::byte>& entry, const std::string& says) {
  try {
    decode_entry(entry, "key \"k\" of snapshot 3");
    FAIL("decoded bytes that are no entry");
  } catch (const instadump::replication_error& e) {
    const std::string what = e.what();
    CHECK(what.find("key \"k\" of snapshot 3") != std::string::npos);
    CHECK(what.find(says) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("a value's entry reads back whole and as its head", "[replication][entry]") {
  for (const auto& roots : {std::vector<std::uint64_t>{}, std::vector<std::uint64_t>{5, 1ull << 40, 9}}) {
    const copy_entry e = sample(roots);
    const std::vector<std::byte> value = bytes_of("twelve bytes, then some more");
    const std::vector<std::byte> entry = entry_of(e, value);
    REQUIRE(entry.size() == kEntryFixedHeadBytes + 8 * roots.size() + value.size());
    // The header is big-endian (PostgreSQL's int8send): the fingerprint's
    // top byte comes first after the flags.
    CHECK(entry[0] == std::byte{2});
    CHECK(entry[1] == std::byte{0x88});

    auto whole = decode_entry(entry, "row");
    CHECK_FALSE(whole.removed);
    copy_entry expected = e;
    expected.size_bytes = value.size();
    CHECK(whole.entry == expected);
    CHECK(std::vector<std::byte>(whole.bytes.begin(), whole.bytes.end()) == value);

    const std::size_t head = kEntryFixedHeadBytes + 8 * roots.size();
    auto only_head = decode_entry_head(std::span(entry).first(head), static_cast<std::int64_t>(entry.size()), "row");
    CHECK(only_head.entry == expected);
    CHECK(only_head.bytes.empty());
  }
}

TEST_CASE("a removed key's entry is one byte", "[replication][entry]") {
  const std::vector<std::byte> entry{kRemovedEntry};
  CHECK(decode_entry(entry, "row").removed);
  CHECK(decode_entry_head(entry, 1, "row").removed);
}

TEST_CASE("bytes that are no entry are refused, naming the row", "[replication][entry]") {
  check_refused({}, "is empty");
  check_refused({std::byte{4}}, "unknown flags");
  check_refused({kRemovedEntry, std::byte{0}}, "says removed");
  std::vector<std::byte> entry = entry_of(sample({1, 2}), bytes_of("value"));
  check_refused(std::vector<std::byte>(entry.begin(), entry.begin() + 10), "shorter than its 25-byte head");
  entry[24] = std::byte{200};  // 200 roots claimed: more than the bytes hold
  check_refused(entry, "claims 200 chunk roots");
  const std::vector<std::byte> good = entry_of(sample(), bytes_of("value"));
  CHECK_THROWS_AS(decode_entry_head(good, static_cast<std::int64_t>(good.size()), "row"),
                  instadump::replication_error);  // the whole entry is not its head
}

TEST_CASE("PostgreSQL computes an entry's head as decode_entry_head reads it, for a big value too",
          "[replication][entry]") {
  // A big value is stored compressed; the head is taken from its first
  // bytes (entry_head_sql, and the tables' instadump.entry_head), which
  // must still find the chunk roots that follow the fixed part.
  std::string big;
  for (int i = 0; big.size() < 6'000'000; ++i) big += "record " + std::to_string(i) + " of a compressible value;";
  const std::vector<std::vector<std::byte>> entries = {
      {kRemovedEntry},
      entry_of(sample(), bytes_of("value")),
      entry_of(sample({5, 1ull << 40, 9}), bytes_of("value with roots")),
      entry_of(sample({7}), bytes_of(big)),
  };
  pg_test::pg_server pg;
  instadump::replication::pg_connection conn(pg.url(), "entry-head");
  instadump::replication::ensure_pg_schema(conn);
  conn.run("CREATE TABLE t (n int PRIMARY KEY, entry bytea NOT NULL)", "creating the table");
  for (std::size_t n = 0; n < entries.size(); ++n) {
    conn.query("INSERT INTO t VALUES ($1, $2)",
               instadump::replication::pg_params().i32(static_cast<std::int32_t>(n)).bytes(entries[n]), "inserting");
  }
  REQUIRE(pg.psql("SELECT pg_column_compression(entry) FROM t WHERE n = 3") == "pglz");  // stored compressed

  auto r = conn.query("SELECT " + entry_head_sql("entry") + ", instadump.entry_head(entry), length(entry) FROM t "
                      "ORDER BY n",
                      {}, "reading the heads");
  REQUIRE(r.rows() == static_cast<int>(entries.size()));
  for (int n = 0; n < r.rows(); ++n) {
    INFO("entry " << n);
    const std::vector<std::byte>& entry = entries[static_cast<std::size_t>(n)];
    const auto head = r.bytes(n, 0);
    const auto by_function = r.bytes(n, 1);
    CHECK(std::vector<std::byte>(head.begin(), head.end()) == std::vector<std::byte>(by_function.begin(),
                                                                                       by_function.end()));
    CHECK(r.i32(n, 2) == static_cast<std::int32_t>(entry.size()));
    const auto read = decode_entry_head(head, r.i32(n, 2), "row");
    const auto whole = decode_entry(entry, "row");
    CHECK(read.removed == whole.removed);
    CHECK(read.entry == whole.entry);
  }
}

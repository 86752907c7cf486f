// Checks data.mdb with plain reads before LMDB maps it.
//
// LMDB maps data.mdb and trusts its header: a file cut short (a partial copy,
// a disk that filled during a copy or a restore) kills the process with
// SIGBUS the first time a page past its end is touched. LMDB's two meta pages
// (pages 0 and 1) say how many pages the environment uses (mm_last_pg, of the
// meta with the higher txnid, the one LMDB opens). LMDB never writes pages
// it freed at the end of the file, so a healthy file may be shorter than
// that: a shorter file is refused with truncated_store, before any page is
// mapped, only when a page some B-tree reaches is not in it.
//
// The check also tells an I/O failure from a file that is not a store: only
// a file read completely whose first page holds no LMDB header is called
// "not an LMDB database".
//
// Internal to instadump_storage.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

namespace instadump::storage {

// What the meta page LMDB opens says (LMDB 0.9's on-disk format).
struct lmdb_header {
  std::uint32_t page_size = 0;
  std::uint64_t last_page = 0;  // mm_last_pg: the highest page number in use
  std::uint64_t txnid = 0;      // mm_txnid of that meta page
  std::uint64_t file_bytes = 0; // data.mdb's size when it was read
  std::uint64_t free_root = 0;  // root pages of the free-page and main databases
  std::uint64_t main_root = 0;  // (~0: empty)
  // The bytes data.mdb must have: (last_page + 1) * page_size.
  std::uint64_t needed_bytes() const noexcept { return (last_page + 1) * page_size; }
};

// Reads and checks the header of <dir>/data.mdb. Returns nullopt when there is
// no data.mdb (LMDB creates one), and the header of a data.mdb that holds all
// the pages it uses.
//
// Throws truncated_store (naming the file, its size and the size it needs)
// when data.mdb lacks a page in use (found by walking the B-trees) or is
// shorter than its header pages
// (an empty file included); corrupt_data when the first header page is intact
// and the second is not; open_failed saying "not an LMDB database" only when
// data.mdb was read completely and its first page is no LMDB meta page; and
// open_failed naming the call and errno when reading fails (an I/O failure:
// nothing is said to be damaged). A data.mdb of an LMDB data version this
// check does not know is left to LMDB (returns its header with page_size 0).
std::optional<lmdb_header> check_data_file(const std::filesystem::path& dir);

}  // namespace instadump::storage

// Checks data.mdb with plain reads before LMDB maps it.
//
// LMDB maps data.mdb and trusts its header: a file cut short (a partial copy,
// a disk that filled during a copy or a restore) kills the process with
// SIGBUS the first time a page past its end is touched. LMDB's two meta pages
// (pages 0 and 1) say how many pages the environment uses (mm_last_pg, of the
// meta with the higher txnid, the one LMDB opens); a file shorter than that
// is refused here with truncated_store, before any page is mapped.
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
  // The bytes data.mdb must have: (last_page + 1) * page_size.
  std::uint64_t needed_bytes() const noexcept { return (last_page + 1) * page_size; }
};

// Reads and checks the header of <dir>/data.mdb. Returns nullopt when there is
// no data.mdb (LMDB creates one), and the header of a data.mdb that holds all
// the pages it uses.
//
// Throws truncated_store (naming the file, its size and the size it needs)
// when data.mdb is shorter than its header says or than its header pages
// (an empty file included); corrupt_data when the first header page is intact
// and the second is not; open_failed saying "not an LMDB database" only when
// data.mdb was read completely and its first page is no LMDB meta page; and
// open_failed naming the call and errno when reading fails (an I/O failure:
// nothing is said to be damaged). A data.mdb of an LMDB data version this
// check does not know is left to LMDB (returns its header with page_size 0).
std::optional<lmdb_header> check_data_file(const std::filesystem::path& dir);

}  // namespace instadump::storage

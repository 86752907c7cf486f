// The check of data.mdb against its own header, with plain reads (see
// data_file_check.h).
#include "storage/data_file_check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/errors.h"
#include "storage/io_errors.h"

namespace instadump::storage {
namespace {

// LMDB 0.9's meta page on a 64-bit machine: a 16-byte page header (flags at
// byte 10), then MDB_meta: magic, data version, address, map size, two MDB_db
// records (the first one's md_pad holds the page size), mm_last_pg, mm_txnid.
constexpr std::size_t kFlagsAt = 10;
constexpr std::size_t kMagicAt = 16;
constexpr std::size_t kVersionAt = 20;
constexpr std::size_t kPageSizeAt = 40;
constexpr std::size_t kLastPageAt = 136;
constexpr std::size_t kTxnidAt = 144;
constexpr std::size_t kFreeRootAt = 80;   // mm_dbs[0].md_root (free pages)
constexpr std::size_t kMainRootAt = 128;  // mm_dbs[1].md_root (the named databases)
constexpr std::size_t kMetaBytes = 152;
constexpr std::uint16_t kMetaPageFlag = 0x08;
constexpr std::uint32_t kMagic = 0xBEEFC0DE;
constexpr std::uint32_t kDataVersion = 1;
static_assert(sizeof(void*) == 8, "the meta page layout below is LMDB's on 64-bit machines");

using meta_bytes = std::array<unsigned char, kMetaBytes>;

template <typename T>
T field(const meta_bytes& page, std::size_t at) {
  T value;
  std::memcpy(&value, page.data() + at, sizeof value);
  return value;
}

bool holds_meta(const meta_bytes& page) {
  return (field<std::uint16_t>(page, kFlagsAt) & kMetaPageFlag) != 0 && field<std::uint32_t>(page, kMagicAt) == kMagic;
}

bool valid_page_size(std::uint32_t size) { return size >= 512 && size <= 65536 && (size & (size - 1)) == 0; }

// data.mdb opened for reading; closed on destruction.
class data_file {
 public:
  explicit data_file(std::filesystem::path dir) : dir_(std::move(dir)), path_(dir_ / "data.mdb") {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0 && errno != ENOENT) throw io_failure("open", errno);
  }
  ~data_file() {
    if (fd_ >= 0) ::close(fd_);
  }
  data_file(const data_file&) = delete;
  data_file& operator=(const data_file&) = delete;

  bool exists() const { return fd_ >= 0; }
  const std::filesystem::path& path() const { return path_; }

  std::uint64_t size() const {
    struct stat st;
    if (::fstat(fd_, &st) != 0) throw io_failure("fstat", errno);
    return static_cast<std::uint64_t>(st.st_size);
  }

  // Reads the meta page fields at `offset`; the file must have the bytes
  // (`size` says it has): a read that ends early is an I/O failure.
  meta_bytes read_meta(std::uint64_t offset, std::uint64_t size) const {
    meta_bytes page;
    read_bytes(offset, page.data(), page.size(), size);
    return page;
  }

  // Reads `length` bytes at `offset` that the file has (`size` says so).
  void read_bytes(std::uint64_t offset, unsigned char* out, std::size_t length, std::uint64_t size) const {
    std::size_t done = 0;
    while (done < length) {
      const ssize_t n = ::pread(fd_, out + done, length - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw io_failure("pread", errno);
      if (n == 0) {
        throw open_failed(where() + "reading " + path_.string() + " ended at byte " + std::to_string(offset + done) +
                          " although it is " + std::to_string(size) +
                          " bytes long: an I/O failure (or the file shrank meanwhile), not a damaged store; check "
                          "the disk and try again");
      }
      done += static_cast<std::size_t>(n);
    }
  }

  std::string where() const { return "instadump: cannot open the store in " + dir_.string() + ": "; }

  open_failed io_failure(const char* call, int err) const {
    return open_failed(where() + "reading " + path_.string() + " failed: " + describe_errno(call, err) +
                       "; this is an I/O failure, not a damaged store: check the disk (e.g. dmesg) and try again");
  }

 private:
  std::filesystem::path dir_;
  std::filesystem::path path_;
  int fd_ = -1;
};

truncated_store too_short_for_headers(const data_file& file, std::uint64_t size, std::uint64_t needed) {
  std::string text = file.where() + file.path().string() + " is truncated: it is " + std::to_string(size) +
                     " bytes long, shorter than LMDB's two header pages (" + std::to_string(needed) +
                     " bytes at least). Restore the whole file from a backup";
  if (size == 0) {
    text += " (an empty data.mdb is also what a store whose creation was interrupted leaves: only if this "
            "directory never held a snapshot, remove data.mdb to create the store anew)";
  }
  return truncated_store(text);
}

// Reads and checks data.mdb's header pages and its size once.
std::optional<lmdb_header> read_header(const data_file& file) {
  const std::uint64_t size = file.size();
  if (size < kMetaBytes) throw too_short_for_headers(file, size, 2 * 512);
  const meta_bytes first = file.read_meta(0, size);
  if (!holds_meta(first)) {
    throw open_failed(file.where() + file.path().string() + " (" + std::to_string(size) +
                      " bytes, read completely) is not an LMDB database: its first page holds no LMDB header. A new "
                      "store needs an empty directory; if this is a store's directory, its data.mdb is damaged: "
                      "restore it from a backup");
  }
  if (field<std::uint32_t>(first, kVersionAt) != kDataVersion) return lmdb_header{};  // LMDB says what it is
  const std::uint32_t page_size = field<std::uint32_t>(first, kPageSizeAt);
  if (!valid_page_size(page_size)) {
    throw corrupt_data(file.where() + file.path().string() + " is damaged: its header records a page size of " +
                       std::to_string(page_size) + " bytes; restore the whole file from a backup");
  }
  if (size < std::uint64_t{page_size} + kMetaBytes) throw too_short_for_headers(file, size, 2 * page_size);
  const meta_bytes second = file.read_meta(page_size, size);
  if (!holds_meta(second) || field<std::uint32_t>(second, kVersionAt) != kDataVersion) {
    throw corrupt_data(file.where() + file.path().string() + " is damaged: its second header page (byte " +
                       std::to_string(page_size) + ") holds no LMDB header while the first one does; restore the "
                       "whole file from a backup");
  }
  const meta_bytes& newer =
      field<std::uint64_t>(second, kTxnidAt) > field<std::uint64_t>(first, kTxnidAt) ? second : first;
  lmdb_header header;
  header.page_size = page_size;
  header.last_page = field<std::uint64_t>(newer, kLastPageAt);
  header.txnid = field<std::uint64_t>(newer, kTxnidAt);
  header.free_root = field<std::uint64_t>(newer, kFreeRootAt);
  header.main_root = field<std::uint64_t>(newer, kMainRootAt);
  header.file_bytes = size;
  return header;
}

// LMDB 0.9's page layout (64-bit): a 16-byte header (page number, pad,
// flags at byte 10, then the free space's lower bound or an overflow run's
// page count at byte 12) and 2-byte offsets of its nodes; a node is lo, hi,
// flags, key size, key, data.
constexpr std::size_t kPageHeaderBytes = 16;
constexpr std::uint16_t kBranchPage = 0x01, kLeafPage = 0x02, kLeaf2Page = 0x20;
constexpr std::uint16_t kBigData = 0x01, kSubDatabase = 0x02;
constexpr std::uint64_t kNoPage = ~std::uint64_t{0};
constexpr std::size_t kDbRootAt = 40;  // md_root inside an MDB_db record (48 bytes)

template <class T>
T read_at(const std::vector<unsigned char>& page, std::size_t at) {
  T value;
  std::memcpy(&value, page.data() + at, sizeof value);
  return value;
}

// The first page LMDB may read that lies (wholly or partly) past the end of
// data.mdb, walking every B-tree from the newest header's roots: named
// databases, their pages and overflow runs, and the free-page database.
// Pages past the end that nothing reaches are pages LMDB freed and never
// wrote (it writes only pages in use), which a healthy file may lack.
// Damaged pointers are left to LMDB and the checksums: the walk only looks
// for pages a map access would fault on.
std::optional<std::uint64_t> first_missing_page(const data_file& file, const lmdb_header& header) {
  const std::uint64_t pages_in_file = header.file_bytes / header.page_size;
  const std::size_t page_bytes = header.page_size;
  std::vector<std::uint64_t> todo;
  for (const std::uint64_t root : {header.free_root, header.main_root}) {
    if (root != kNoPage) todo.push_back(root);
  }
  std::unordered_set<std::uint64_t> seen;
  std::vector<unsigned char> page(page_bytes);
  while (!todo.empty()) {
    const std::uint64_t number = todo.back();
    todo.pop_back();
    if (number >= pages_in_file) return number;
    if (!seen.insert(number).second || seen.size() > pages_in_file) continue;
    file.read_bytes(number * page_bytes, page.data(), page_bytes, header.file_bytes);
    const auto flags = read_at<std::uint16_t>(page, 10);
    if ((flags & kLeaf2Page) || !(flags & (kBranchPage | kLeafPage))) continue;
    const std::size_t lower = read_at<std::uint16_t>(page, 12);
    if (lower < kPageHeaderBytes || lower > page_bytes) continue;
    for (std::size_t i = 0; i < (lower - kPageHeaderBytes) / 2; ++i) {
      const std::size_t at = read_at<std::uint16_t>(page, kPageHeaderBytes + 2 * i);
      if (at + 8 > page_bytes) continue;
      const std::uint64_t lo = read_at<std::uint16_t>(page, at), hi = read_at<std::uint16_t>(page, at + 2);
      const std::uint16_t node_flags = read_at<std::uint16_t>(page, at + 4);
      if (flags & kBranchPage) {
        todo.push_back(lo | (hi << 16) | (std::uint64_t{node_flags} << 32));
        continue;
      }
      const std::size_t data = at + 8 + read_at<std::uint16_t>(page, at + 6);
      if ((node_flags & kBigData) && data + 8 <= page_bytes) {
        const auto first = read_at<std::uint64_t>(page, data);
        if (first >= pages_in_file) return first;
        std::vector<unsigned char> run_header(kPageHeaderBytes);
        file.read_bytes(first * page_bytes, run_header.data(), kPageHeaderBytes, header.file_bytes);
        const std::uint64_t pages = read_at<std::uint32_t>(run_header, 12);
        if (first + pages > pages_in_file) return pages_in_file;
      } else if ((node_flags & kSubDatabase) && data + kDbRootAt + 8 <= page_bytes) {
        const auto root = read_at<std::uint64_t>(page, data + kDbRootAt);
        if (root != kNoPage) todo.push_back(root);
      }
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<lmdb_header> check_data_file(const std::filesystem::path& dir) {
  const data_file file(dir);
  if (!file.exists()) return std::nullopt;
  std::optional<lmdb_header> header = read_header(file);
  if (header->page_size == 0 || header->file_bytes >= header->needed_bytes()) return header;
  // A writer in another process may have written a newer header between the
  // size and the header read: only a second reading that agrees counts.
  header = read_header(file);
  if (header->page_size == 0 || header->file_bytes >= header->needed_bytes()) return header;
  // Shorter than the pages the header counts: healthy if every page in use
  // is there (LMDB does not write pages it freed at the end of the file).
  const std::optional<std::uint64_t> missing = first_missing_page(file, *header);
  if (!missing) return header;
  throw truncated_store(
      file.where() + file.path().string() + " is truncated: it is " + std::to_string(header->file_bytes) +
      " bytes long, but its newest header (transaction " + std::to_string(header->txnid) + ") says the store uses " +
      std::to_string(header->last_page + 1) + " pages of " + std::to_string(header->page_size) + " bytes, " +
      std::to_string(header->needed_bytes()) + " bytes, and page " + std::to_string(*missing) +
      ", which it uses, is not in it. Restore the whole file from a backup (a partial copy, or a disk that filled during a copy or a "
      "restore, leaves such a file); LMDB cannot open it as it is");
}

}  // namespace instadump::storage

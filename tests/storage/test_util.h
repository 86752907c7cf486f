// Helpers shared by the storage tests: scratch directories, values with
// recognizable bytes, reading a snapshot back, and running code in a child.
#pragma once

#include <sys/types.h>

#include <lmdb.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "storage/snapshot_store.h"

namespace storage_test {

// A fresh directory under /tmp, removed (with its contents) on destruction.
class scratch_dir {
 public:
  scratch_dir();
  ~scratch_dir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// `size` bytes (a multiple of 8) derived from `seed`, so each value is distinct.
std::vector<std::byte> pattern(std::size_t size, std::uint64_t seed);

// A new_value whose fill copies `bytes`.
instadump::storage::new_value value_of(std::string_view key, std::vector<std::byte> bytes,
                                       instadump::storage::schema_identity schema = {7, 1});

using values_t = std::vector<std::variant<instadump::storage::new_value, instadump::storage::kept_value>>;

// A snapshot's worth of values holding one value: `size` pattern bytes.
values_t one_value(const char* key, std::size_t size, std::uint64_t seed);

// Every value of snapshot `id`, by key.
std::map<std::string, std::vector<std::byte>> read_all(const instadump::storage::snapshot_store& store,
                                                       std::uint64_t id);

// The blobs the kept snapshots of `store` have values in.
std::set<std::uint64_t> referenced_blobs(const instadump::storage::snapshot_store& store);

// The format version a closed store's meta record says.
std::uint32_t stored_format(const std::filesystem::path& dir);

// Runs f(txn, dbi) in a write transaction of a raw LMDB handle on a closed
// store, to damage it in ways a flipped bit in the file would; dbi(name)
// opens one of its databases.
void tamper(const std::filesystem::path& dir,
            const std::function<void(MDB_txn*, const std::function<MDB_dbi(const char*)>&)>& f);

// `id` as an 8-byte big-endian LMDB key, in `buf`.
MDB_val be_key(std::uint64_t id, unsigned char (&buf)[8]);

// Runs `body` in a forked child; returns its exit code (the child exits 0
// when body returns true, 1 when false, 2 on an exception, 128+signal when
// killed). The child never runs the parent's destructors.
int run_in_child(const std::function<bool()>& body);
// Like run_in_child, but returns the child's pid at once (the caller waits
// for it, or kills it).
pid_t start_child(const std::function<bool()>& body);

}  // namespace storage_test

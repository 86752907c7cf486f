// A thin RAII layer over the LMDB C API used by the snapshot store: the
// environment (with map growth), transactions, and 8-byte big-endian keys.
//
// Internal to instadump_storage: failures are reported as lmdb_failure
// carrying the LMDB/errno code, which snapshot_store turns into the public
// exception types once it knows what the caller was doing.
#pragma once

#include <lmdb.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

namespace instadump::storage::lmdb {

// An LMDB call failed. code() is the return code (an MDB_* code or an errno).
class lmdb_failure : public std::runtime_error {
 public:
  lmdb_failure(int code, const std::string& what);
  int code() const noexcept { return code_; }

 private:
  int code_;
};

// Throws lmdb_failure("<what>: <mdb_strerror>") when rc != MDB_SUCCESS.
void check(int rc, const char* what);

// Whether `code` (of an lmdb_failure) is an I/O error: EIO, or MDB_PANIC,
// which LMDB returns once a write of the environment has failed. Pages
// written before may then never reach the disk, so the store refuses
// further writes (it is "poisoned").
inline bool is_io_error(int code) noexcept { return code == EIO || code == MDB_PANIC; }

// An open MDB_env. Not copyable. All member functions are as thread-safe as
// the LMDB calls they wrap; resizing REQUIRES that this process has no
// transaction open in the environment (the store guarantees it with its
// shared_mutex).
class environment {
 public:
  // Creates and opens the environment in `dir` (data.mdb + lock.mdb, mode
  // 0600) with `flags` (MDB_NOTLS is always added). Throws lmdb_failure.
  environment(const std::filesystem::path& dir, unsigned flags, std::size_t map_size, unsigned max_dbs);
  ~environment();
  environment(const environment&) = delete;
  environment& operator=(const environment&) = delete;

  MDB_env* get() const noexcept { return env_; }

  // Current map size in bytes.
  std::size_t map_size() const;
  // Sets a map size of at least max(2 * current, current + extra), rounded up
  // to 1 MiB. Throws lmdb_failure. REQUIRES: no transaction open in this process.
  void grow_map(std::size_t extra);
  // Adopts the map size another process recorded (after MDB_MAP_RESIZED).
  // Throws lmdb_failure. REQUIRES: no transaction open in this process.
  void adopt_map_size();
  // Flushes data and meta pages to disk (mdb_env_sync(env, 1)). Throws lmdb_failure.
  void sync();
  // Releases reader slots of dead processes; returns how many. Throws lmdb_failure.
  int clear_stale_readers();
  // Forgets the environment without closing it (used in a forked child,
  // where mdb_env_close would clear the parent's reader slots).
  void abandon() noexcept { env_ = nullptr; }

 private:
  MDB_env* env_ = nullptr;
};

// A transaction, aborted on destruction unless committed. Not copyable.
class transaction {
 public:
  // Begins a transaction (MDB_RDONLY in flags for a read transaction), a
  // child of `parent` when it is not null (its commit then only merges it
  // into the parent). Throws lmdb_failure (MDB_MAP_RESIZED when another
  // process grew the map).
  transaction(MDB_env* env, unsigned flags, MDB_txn* parent = nullptr);
  ~transaction();
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;

  MDB_txn* get() const noexcept { return txn_; }
  // Commits. Throws lmdb_failure; the transaction is gone either way.
  void commit();
  void abort() noexcept;

 private:
  MDB_txn* txn_ = nullptr;
};

// An 8-byte big-endian key: ids sort numerically under LMDB's byte order.
class id_key {
 public:
  explicit id_key(std::uint64_t id) noexcept;
  MDB_val val() noexcept { return MDB_val{bytes_.size(), bytes_.data()}; }

 private:
  std::array<unsigned char, 8> bytes_;
};

// A key made of the bytes of `s` (for the "meta" database's names).
inline MDB_val text_key(const char* s) noexcept { return MDB_val{std::strlen(s), const_cast<char*>(s)}; }

// Decodes an 8-byte big-endian key. Throws lmdb_failure(MDB_CORRUPTED) when
// the key is not 8 bytes long.
std::uint64_t decode_id_key(const MDB_val& key);

// Calls visit(key, value) for every record of `dbi`, in key order or, with
// newest_first, in reverse key order (newest id first). Throws lmdb_failure.
void for_each_record(MDB_txn* txn, MDB_dbi dbi, bool newest_first,
                     const std::function<void(const MDB_val& key, const MDB_val& value)>& visit);

// The largest id key of `dbi`, or nullopt when it is empty. Throws lmdb_failure.
std::optional<std::uint64_t> last_id(MDB_txn* txn, MDB_dbi dbi);

// The bytes of an LMDB value.
inline std::span<const std::byte> bytes_of(const MDB_val& v) noexcept {
  return {static_cast<const std::byte*>(v.mv_data), v.mv_size};
}

}  // namespace instadump::storage::lmdb

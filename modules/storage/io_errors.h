// Words for failures of the operating system under the store, so that an
// operator knows what happened: an I/O error is called one (with the call and
// errno), a full filesystem is called full (and where), and neither is ever
// mistaken for a damaged store or answered with "start over".
//
// Internal to instadump_storage.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace instadump::storage {

// "<call>: <strerror> (errno <n>, <NAME>)", e.g.
// "pread: Input/output error (errno 5, EIO)".
std::string describe_errno(const char* call, int err);

// Whether the filesystem holding `dir` has less than `wanted_bytes` plus
// 1 MiB available to this process (statvfs). False when it cannot be asked.
bool filesystem_nearly_full(const std::filesystem::path& dir, std::uint64_t wanted_bytes);

// Describes a failed write or flush under `dir` whose error code is `code` (an
// errno or an MDB_* code) and whose message is `what` (e.g.
// "mdb_txn_commit: Input/output error"). ENOSPC and EDQUOT, and EIO where the
// filesystem is (nearly) full -- LMDB reports a short write, which is how a
// full disk shows up, as EIO -- become "the filesystem holding <dir> is full
// (<n> bytes free): free space there, then save again", followed by `what`.
// MDB_PANIC (LMDB refuses an environment whose earlier write failed) adds
// that the store must be reopened. Other codes keep `what`. `wanted_bytes`: what the write needed, when known.
std::string describe_write_failure(int code, const std::string& what, const std::filesystem::path& dir,
                                   std::uint64_t wanted_bytes = 0);

}  // namespace instadump::storage

// Exception types thrown by Instadump.
//
// Every error derives from instadump::error (a std::runtime_error), so a
// caller can catch them all at once; the subclasses say what went wrong and
// so what the caller can do about it. Messages name the ref, transaction,
// snapshot or file involved and, where there is one, the fix.
//
// A plain header (not a module partition) so that the non-module parts of the
// library, such as the LMDB storage layer, throw the same types; the module
// re-exports them (modules/stm/errors.cppm).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace instadump {

// Base of every exception Instadump throws.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An argument or option the caller passed is out of range or malformed (a
// too-small journal size, an empty key, ...). The message names the option,
// the value given and what is allowed. Nothing was changed.
class invalid_option : public error {
 public:
  using error::error;
};

// --- STM ---------------------------------------------------------------------

// A write (set, alter, commute, ensure), retry() or after_commit() was
// called outside a transaction. Wrap the call in instadump::dosync.
class no_transaction : public error {
 public:
  using error::error;
};

// A ref's validator rejected the value a transaction was about to commit.
// The transaction changed nothing.
class validation_failed : public error {
 public:
  using error::error;
};

// A transaction conflicted more often than its retry limit allows. The
// message names the ref of the last conflict; the transaction changed nothing.
class retry_limit_exceeded : public error {
 public:
  retry_limit_exceeded(const std::string& what, std::uint64_t attempts)
      : error(what), attempts_(attempts) {}
  std::uint64_t attempts() const noexcept { return attempts_; }

 private:
  std::uint64_t attempts_;
};

// An operation that is illegal in the current transaction state, such as
// set() after commute() on the same ref (the commute would be lost).
class illegal_transaction_state : public error {
 public:
  using error::error;
};

// --- Persistent collections (pmap, pvector, pset) ---------------------------

// pmap::at() was asked for a key the map does not hold. The message shows the
// key when it can be printed. Use find() or contains() to look a key up
// without an exception.
class key_not_found : public error {
 public:
  using error::error;
};

// A pvector index at or past the end (at(), set()), or pop_back() of an empty
// vector. The message names the operation, the index and the size. Nothing
// was changed.
class index_out_of_range : public error {
 public:
  using error::error;
};

// A transient (transient_pmap, transient_pvector, transient_pset) was used
// after persistent() ended it, or after it was moved from. Make a new one
// with transient() on the value.
class transient_consumed : public error {
 public:
  using error::error;
};

// --- Storage -----------------------------------------------------------------

// Base of errors about the snapshot directory and its files.
class storage_error : public error {
 public:
  using error::error;
};

// The directory cannot be used: not a directory, no permission, not an
// Instadump database, written by a newer format, or locked by another
// process for writing.
class open_failed : public storage_error {
 public:
  using storage_error::storage_error;
};

// Another process has the directory open for writing.
class locked_by_other_process : public open_failed {
 public:
  using open_failed::open_failed;
};

// Stored bytes are damaged: checksum mismatch, truncated or undecodable data.
// The message names the ref (key) and the snapshot.
class corrupt_data : public storage_error {
 public:
  using storage_error::storage_error;
};

// data.mdb is shorter than the pages its newest header says the store uses
// (a partial copy, or a disk that filled during a copy or a restore). Found
// before any page is read; nothing was changed. The message names the file,
// its size and the size it needs: restore the whole file from a backup.
class truncated_store : public corrupt_data {
 public:
  using corrupt_data::corrupt_data;
};

// A save failed (disk full, I/O error, map growth failure). The last good
// snapshot is intact.
class save_failed : public storage_error {
 public:
  using storage_error::storage_error;
};

// A value is beyond a ceiling of the stored format (common/limits.h, README
// "Limits"): it nests structs and lists deeper than a load reads, holds a
// list, text or data longer than Cap'n Proto allows, or is larger than one
// segment. Refused at save, before anything was written: the previous
// snapshots are intact. The message names the ref, the ceiling and what the
// value measured; limit() and measured() give the two numbers.
class limit_exceeded : public save_failed {
 public:
  limit_exceeded(const std::string& what, std::uint64_t limit, std::uint64_t measured)
      : save_failed(what), limit_(limit), measured_(measured) {}
  std::uint64_t limit() const noexcept { return limit_; }
  std::uint64_t measured() const noexcept { return measured_; }

 private:
  std::uint64_t limit_;
  std::uint64_t measured_;
};

// A save (save_all(), autosave) was asked of a read-only session
// (setup_options::read_only), which never writes the store: only its one
// writer process saves. Nothing was written. Save from the writer, or set
// up without read_only in a process that may write (one per directory).
class read_only_session : public error {
 public:
  using error::error;
};

// A load failed as a whole; nothing was changed. The message names the ref,
// the snapshot and the reason.
class load_failed : public storage_error {
 public:
  using storage_error::storage_error;
};

// --- Replication to PostgreSQL ---------------------------------------------

// Replicating to PostgreSQL failed: the server cannot be reached, refused a
// statement, or holds a replicated copy that does not fit this store. The
// message names the store, the snapshot and libpq's reason. Local saves are
// not affected: a snapshot saved locally stays saved, and the next attempt
// ships what PostgreSQL lacks.
class replication_error : public error {
 public:
  using error::error;
};

// This process no longer holds the writer's lease on the replicated store:
// another instance took it over (its epoch is newer). Nothing more is
// replicated from here, and saves fail: shut this instance down (its
// newest snapshots, if any, were never acknowledged by PostgreSQL), or
// start it again with setup_options::replicate.standby to wait for the
// lease.
class lease_lost : public replication_error {
 public:
  using replication_error::replication_error;
};

}  // namespace instadump

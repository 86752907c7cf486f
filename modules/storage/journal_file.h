// The journal file of a store directory, <dir>/journal.log: a preallocated
// file of frames, each holding one journaled snapshot (a JournalEntry
// message). Appending a frame costs one pwrite and, when durable, one
// fdatasync of blocks that are already allocated: no file-system metadata
// changes, so the flush is the cheapest durable write the disk offers.
//
// Frames are written one after another from offset 0. Once every journaled
// snapshot is in data.mdb, reset() starts over at offset 0, overwriting old
// frames. A reader therefore takes the frames from offset 0 for as long as
// each is whole and intact (its checksum matches) and each snapshot id
// follows the one before; the first frame that does not is the end (a frame
// torn by a crash, or one left from before a reset). docs/FORMAT.md has the
// byte layout.
//
// Internal to instadump_storage. Not thread-safe: the store serializes calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "storage/journal_frame.h"

namespace instadump::storage {

// A journal read or write failed. code() is the errno value.
class journal_io_error : public std::runtime_error {
 public:
  journal_io_error(int code, const std::string& what, bool flush = false);
  int code() const noexcept { return code_; }
  // Whether flushing the file to disk failed: written pages may then be
  // lost without a later flush reporting it (see append()).
  bool flush_failed() const noexcept { return flush_; }

 private:
  int code_;
  bool flush_;
};

class journal_file {
 public:
  // Opens <dir>/journal.log for reading and writing, creating it (empty,
  // mode 0600, close-on-exec) if missing. `capacity` is the size the file
  // is grown to before the first append. Throws journal_io_error.
  journal_file(const std::filesystem::path& dir, std::uint64_t capacity);
  ~journal_file();
  journal_file(const journal_file&) = delete;
  journal_file& operator=(const journal_file&) = delete;

  // Reads the whole file and returns its frames (see parse_journal_frames).
  // Throws journal_io_error.
  std::vector<journal_frame> read_frames() const;

  // Whether a frame of `payload_bytes` fits behind the frames appended so far.
  bool fits(std::uint64_t payload_bytes) const;

  // Writes one frame behind the ones appended since the last reset(): the
  // header for `snapshot_id`, then `parts` (together a multiple of 8 bytes).
  // The first append grows the file to its capacity (written zeros, synced,
  // and the directory synced), so that later appends change no metadata.
  // durable: the frame is on stable storage (fdatasync) when this returns.
  // REQUIRES: fits(total size of parts). Throws journal_io_error; after a
  // failed flush nothing later written can be trusted to reach the disk
  // (the caller must stop using the file).
  void append(std::uint64_t snapshot_id, std::span<const std::span<const std::byte>> parts, bool durable);

  // Makes the next append start at offset 0 again. Call only when every
  // frame written so far is no longer needed.
  void reset() noexcept { tail_ = 0; }

  std::uint64_t used_bytes() const noexcept { return tail_; }
  std::uint64_t capacity() const noexcept { return capacity_; }
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  void grow();

  std::filesystem::path path_;
  int fd_ = -1;
  std::uint64_t capacity_;
  std::uint64_t size_ = 0;  // the file's size as last seen
  std::uint64_t tail_ = 0;  // where the next frame goes
};

}  // namespace instadump::storage

// The journal file of a store directory, <dir>/journal.log: a preallocated
// file of frames, each holding one journaled snapshot (a JournalEntry
// message). Appending a frame costs one pwrite and, when durable, one
// fdatasync of blocks that are already allocated: no file-system metadata
// changes, so the flush is the cheapest durable write the disk offers.
//
// The file is two halves. Frames are written one after another from the
// start of one half; when it is full, writing goes on at the start of the
// other half, once every frame there is no longer needed (its snapshot is
// in data.mdb). So saves never wait while the snapshots of the other half
// are written into data.mdb. A reader takes the frames of each half from
// its start for as long as each is whole and intact (its checksum matches)
// and its snapshot id follows the one before; the first frame that does not
// is the end of that half (a frame torn by a crash, or one left from before
// the half was started over). docs/FORMAT.md has the byte layout.
//
// Internal to instadump_storage. Not thread-safe: the store serializes calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
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

// What a journal file holds: the frames of both halves (first half first,
// offsets in the file) and, when one half has a damaged frame with intact
// ones behind it (find_damaged_frame), that frame (its offset in the file).
struct journal_contents {
  std::vector<journal_frame> frames;
  std::optional<damaged_frame> damage;
};

// Reads <dir>/journal.log without creating, locking or writing it, as a
// read-only store must (an empty journal when there is no such file): the
// frames of each half (split at the middle of the file) with ids from
// `keep_from` on, walking over the others (walk_journal_frames). Reads each
// half only as far as its frames go. Throws journal_io_error.
journal_contents read_journal_contents(const std::filesystem::path& dir, std::uint64_t keep_from = 0);

class journal_file {
 public:
  // Opens <dir>/journal.log for reading and writing, creating it (empty,
  // mode 0600, close-on-exec) if missing. `capacity` (a multiple of 16) is
  // the size the file is grown to before the first append. Throws
  // journal_io_error.
  journal_file(const std::filesystem::path& dir, std::uint64_t capacity);
  ~journal_file();
  journal_file(const journal_file&) = delete;
  journal_file& operator=(const journal_file&) = delete;

  // Returns the frames of both halves, first half first, as
  // read_journal_contents(dir, 0) does (a file not of the capacity it was
  // opened with is split in halves by its own size). Throws
  // journal_io_error.
  std::vector<journal_frame> read_frames() const;

  // After the frames read_frames() returned are no longer needed: makes the
  // file of the capacity it was opened with, if it is not (the next append
  // grows it), and starts writing at the start of the first half. Throws
  // journal_io_error.
  void start_over();

  // Whether a frame of `payload_bytes` fits in a half at all, and behind
  // the frames appended to the current half so far.
  bool fits_a_half(std::uint64_t payload_bytes) const noexcept;
  bool fits(std::uint64_t payload_bytes) const noexcept;

  // Writes one frame behind the ones appended to the current half: the
  // header for `snapshot_id`, then `parts` (together a multiple of 8 bytes,
  // unpacking to `unpacked_bytes`).
  // The first append grows the file to its capacity (written zeros, synced,
  // and the directory synced), so that later appends change no metadata.
  // durable: the frame is on stable storage (fdatasync) when this returns.
  // REQUIRES: fits(total size of parts). Throws journal_io_error; after a
  // failed flush nothing later written can be trusted to reach the disk
  // (the caller must stop using the file).
  void append(std::uint64_t snapshot_id, std::uint64_t unpacked_bytes,
              std::span<const std::span<const std::byte>> parts, bool durable);

  // Puts every frame appended without `durable` since the last flush on
  // stable storage (fdatasync); does nothing when there is none. Throws
  // journal_io_error (flush_failed) as append does.
  void flush();

  // Goes on at the start of the other half. Call only when no frame there
  // is needed any more.
  void switch_half() noexcept;
  // Goes on at the start of the first half. Call only when no frame in the
  // file is needed any more. (Frames of one half have consecutive ids: after
  // a snapshot that was not journaled, the journal must start over.)
  void restart() noexcept {
    half_ = 0;
    tail_ = 0;
  }

  int half() const noexcept { return half_; }  // the half appends go to: 0 or 1
  std::uint64_t capacity() const noexcept { return capacity_; }
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  void grow();
  std::uint64_t half_bytes() const noexcept { return capacity_ / 2; }

  std::filesystem::path path_;
  int fd_ = -1;
  bool unflushed_ = false;  // a frame was appended without `durable` since the last flush
  std::uint64_t capacity_;
  std::uint64_t size_ = 0;  // the file's size as last seen
  int half_ = 0;
  std::uint64_t tail_ = 0;  // where in the current half the next frame goes
};

}  // namespace instadump::storage

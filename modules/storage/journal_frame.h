// The frames of a journal file (see journal_file.h): a 40-byte header -- a
// magic number, the snapshot id, the payload's size, its size unpacked, and
// an XXH3-64 checksum of the four and the payload -- followed by the
// payload: a JournalEntry message in Cap'n Proto's packed encoding. Pure
// functions over bytes, so the fuzzer can reach them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace instadump::storage {

// The fixed header in front of every frame's payload (little-endian u64s).
inline constexpr std::size_t kJournalFrameHeaderBytes = 40;
// "IDJRNL1\0" read as a little-endian u64: the first bytes of every frame.
inline constexpr std::uint64_t kJournalFrameMagic = 0x00314C4E524A4449ull;
// A payload unpacks to at most this many bytes (and at most 1024 times its
// packed size): a reader allocates no more than that for a frame.
inline constexpr std::uint64_t kJournalMaxUnpackedBytes = std::uint64_t{1} << 29;

// One intact frame read back: the snapshot id its header names and its
// payload, unpacked (8-byte aligned in memory).
struct journal_frame {
  std::uint64_t snapshot_id = 0;
  std::uint64_t offset = 0;  // where the frame starts in the file
  std::uint64_t stored_bytes = 0;  // header and packed payload: where the next frame starts
  std::vector<std::uint64_t> payload;
};

// Splits `bytes` (a journal file's contents, or a prefix of them) into the
// frames a reader accepts: from offset 0, each whole, with its magic and
// checksum, a payload that unpacks to the size its header says, and with
// snapshot ids increasing by one; `first_id`, when not 0, is the only id the
// first frame may have. Never reads outside `bytes`.
std::vector<journal_frame> parse_journal_frames(std::span<const std::byte> bytes, std::uint64_t first_id = 0);

// How far walk_journal_frames() got.
struct journal_walk {
  std::vector<journal_frame> frames;  // the frames it took (ids from keep_from on)
  std::uint64_t end = 0;              // where it stopped: behind the last frame it accepted
  std::uint64_t next_id = 0;          // the id a frame there would need (0: any)
  // It stopped at a whole header with the magic and that id: a frame that
  // fails its checks (torn or damaged: see find_damaged_frame), or one that
  // `bytes`, a prefix of the file, cuts short. (A prefix may also cut a
  // header short: fewer than kJournalFrameHeaderBytes behind `end`.)
  bool stopped_at_frame = false;
};

// parse_journal_frames() for a reader that holds the snapshots of the frames
// below `keep_from` already: it walks over those by their headers alone (no
// checksum, no unpacking) and takes only the others, each checked as
// parse_journal_frames does. (A header it trusts can lead it only to bytes
// it then checks.) With keep_from 0, the frames are parse_journal_frames'.
journal_walk walk_journal_frames(std::span<const std::byte> bytes, std::uint64_t first_id = 0,
                                 std::uint64_t keep_from = 0);

// The id of the frame at the start of `bytes` when it is whole and intact
// (its checksum matches), else 0.
std::uint64_t first_frame_id(std::span<const std::byte> bytes);

// A frame that is damaged rather than torn (see find_damaged_frame).
struct damaged_frame {
  std::uint64_t snapshot_id = 0;  // as its header says
  std::uint64_t offset = 0;       // where it starts in `bytes`
};

// Where walk_journal_frames(bytes) stopped (`walk`), when that is not where
// writing stopped: the frame there has a whole header (magic, the id that
// comes next, a payload that fits) but fails its checksum or does not
// unpack, and right behind it lies an intact frame of the id after it. A
// crash tears only the last frame written, so nothing intact follows a torn
// one, and frames left from before the half was started over have smaller
// ids. Never reads outside `bytes`.
std::optional<damaged_frame> find_damaged_frame(std::span<const std::byte> bytes, const journal_walk& walk);

// Writes the kJournalFrameHeaderBytes of the header of snapshot
// `snapshot_id`'s frame into `header`: its payload is `parts` one after
// another (together a multiple of 8 bytes), which unpack to
// `unpacked_bytes`.
void fill_journal_frame_header(std::byte* header, std::uint64_t snapshot_id, std::uint64_t unpacked_bytes,
                               std::span<const std::span<const std::byte>> parts);

// The most bytes pack_words_into() writes for `bytes` bytes of words.
constexpr std::size_t packed_bound(std::size_t bytes) noexcept { return bytes / 8 * 10 + 16; }

// Writes Cap'n Proto's packed encoding of `words` (a multiple of 8 bytes) to
// `out`, which has room for packed_bound(words.size()) bytes (not all of
// them are meaningful: only the returned count is). The same words packed
// one part after another unpack as one.
std::size_t pack_words_into(std::span<const std::byte> words, std::byte* out) noexcept;

// pack_words_into(), appending to a vector.
void pack_words(std::span<const std::byte> words, std::vector<std::byte>& out);

namespace detail {
// pack_words_into() without the BMI2 instructions it uses where they are
// fast (tests compare the two).
std::size_t pack_words_portable(std::span<const std::byte> words, std::byte* out) noexcept;
}  // namespace detail

// Unpacks Cap'n Proto's packed encoding of exactly `out.size()` bytes (a
// multiple of 8) from `packed`, which may end in up to 7 bytes of zero
// padding. Returns false, with `out` unspecified, when `packed` is not
// that.
bool unpack_words(std::span<const std::byte> packed, std::span<std::byte> out);

}  // namespace instadump::storage

// The frames of a journal file (see journal_file.h): a 32-byte header -- a
// magic number, the snapshot id, the payload's size and an XXH3-64 checksum
// of the three and the payload -- followed by the payload, a JournalEntry
// message. Pure functions over bytes, so the fuzzer can reach them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace instadump::storage {

// The fixed header in front of every frame's payload (little-endian u64s).
inline constexpr std::size_t kJournalFrameHeaderBytes = 32;
// "IDJRNL1\0" read as a little-endian u64: the first bytes of every frame.
inline constexpr std::uint64_t kJournalFrameMagic = 0x00314C4E524A4449ull;

// One intact frame read back: the snapshot id its header names and its
// payload (a multiple of 8 bytes, 8-byte aligned in memory).
struct journal_frame {
  std::uint64_t snapshot_id = 0;
  std::uint64_t offset = 0;  // where the frame starts in the file
  std::vector<std::uint64_t> payload;
};

// Splits `bytes` (a journal file's contents, or a prefix of them) into the
// frames a reader accepts: from offset 0, each whole, with its magic and
// checksum, and with snapshot ids increasing by one; `first_id`, when not 0,
// is the only id the first frame may have. Never reads outside `bytes`.
std::vector<journal_frame> parse_journal_frames(std::span<const std::byte> bytes, std::uint64_t first_id = 0);

// Writes the kJournalFrameHeaderBytes of the header of snapshot
// `snapshot_id`'s frame, whose payload is `parts` one after another
// (together a multiple of 8 bytes), into `header`.
void fill_journal_frame_header(std::byte* header, std::uint64_t snapshot_id,
                               std::span<const std::span<const std::byte>> parts);

}  // namespace instadump::storage

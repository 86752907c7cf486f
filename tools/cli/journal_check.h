// What <dir>/journal.log holds, read by the tool itself (a read-only open
// of the store does not replay it): the intact frames of both halves, and
// the frames that are damaged -- where a half's frames end at a frame that
// has the magic and the next snapshot id, but not a matching checksum or a
// payload that unpacks, and whose snapshot the store does not have. Such a
// frame is a snapshot the writer saved (and, durably saving, reported
// saved) that is lost. The layout is docs/FORMAT.md, "The journal".
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "storage/journal_frame.h"

namespace instadump::cli {

struct journal_contents {
  bool present = false;             // journal.log exists
  std::uint64_t file_bytes = 0;
  std::vector<storage::journal_frame> frames;  // intact, first half first
  // The raw bytes of each intact frame (header and packed payload), in the
  // order of `frames`: what a backup copies.
  std::vector<std::vector<std::byte>> frame_bytes;

  struct damaged_frame {
    std::uint64_t offset = 0;
    std::uint64_t snapshot_id = 0;
    std::string why;
    // The names of the values it holds, when its payload still decodes
    // (key ids the store knows are named by `name_of_key`), else empty.
    std::vector<std::string> keys;
  };
  std::vector<damaged_frame> damaged;
};

// Reads the journal of the store in `dir`. `newest` is the newest snapshot
// the store holds: damaged frames of snapshots up to it are harmless (their
// snapshot is in data.mdb) and not reported. `name_of_key(id)` names a key
// id (empty when unknown). Throws cli_error when the file cannot be read.
journal_contents read_journal(const std::filesystem::path& dir, std::uint64_t newest,
                              const std::function<std::string(std::uint64_t)>& name_of_key);

}  // namespace instadump::cli

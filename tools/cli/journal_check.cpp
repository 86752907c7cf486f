// journal_check.h: the frames of journal.log, intact and damaged.
#include "journal_check.h"

#include <cstring>
#include <fstream>
#include <iterator>

#include "cli_error.h"
#include "storage/journal_codec.h"

namespace instadump::cli {
namespace {

std::uint64_t u64_at(std::span<const std::byte> bytes, std::size_t at) {
  std::uint64_t v = 0;
  std::memcpy(&v, bytes.data() + at, sizeof v);
  return v;
}

std::size_t frame_end(std::span<const std::byte> half, std::uint64_t offset) {
  return static_cast<std::size_t>(offset + storage::kJournalFrameHeaderBytes + u64_at(half, offset + 16));
}

// The names of the values of a frame whose checksum failed, from its
// payload if it still unpacks and decodes.
std::vector<std::string> keys_of(std::span<const std::byte> half, std::size_t at, std::uint64_t id,
                                 const std::function<std::string(std::uint64_t)>& name_of_key) {
  const std::uint64_t packed = u64_at(half, at + 16);
  const std::uint64_t unpacked = u64_at(half, at + 24);
  const std::size_t start = at + storage::kJournalFrameHeaderBytes;
  if (packed > half.size() - start || unpacked % 8 != 0 || unpacked > storage::kJournalMaxUnpackedBytes ||
      unpacked > packed * 1024) {
    return {};
  }
  std::vector<capnp::word> words(unpacked / 8);
  if (!storage::unpack_words(half.subspan(start, packed), std::as_writable_bytes(std::span(words)))) return {};
  try {
    storage::journal_entry entry =
        storage::decode_journal_entry(kj::arrayPtr(words.data(), words.size()), "snapshot " + std::to_string(id));
    std::vector<std::string> keys;
    for (const storage::journal_value& v : entry.values) {
      std::string name = name_of_key(v.key_id);
      for (const auto& [key_id, new_name] : entry.new_keys) {
        if (key_id == v.key_id) name = new_name;
      }
      keys.push_back(name.empty() ? "key id " + std::to_string(v.key_id) : name);
    }
    return keys;
  } catch (const std::exception&) {
    return {};
  }
}

}  // namespace

journal_contents read_journal(const std::filesystem::path& dir, std::uint64_t newest,
                              const std::function<std::string(std::uint64_t)>& name_of_key) {
  journal_contents out;
  const std::filesystem::path path = dir / "journal.log";
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    if (std::filesystem::exists(path)) throw cli_error("cannot read " + path.string());
    return out;
  }
  out.present = true;
  std::vector<char> raw((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  out.file_bytes = raw.size();
  const auto bytes = std::as_bytes(std::span(raw.data(), raw.size()));
  // Two halves, split as the store splits them (journal_file::read_frames).
  const std::size_t half_size = bytes.size() / 2 / 8 * 8;
  for (std::size_t base : {std::size_t{0}, half_size}) {
    const std::span<const std::byte> half = base == 0 ? bytes.first(half_size) : bytes.subspan(half_size);
    std::vector<storage::journal_frame> frames = storage::parse_journal_frames(half);
    std::size_t end = 0;
    std::uint64_t next_id = 0;  // 0: any
    for (storage::journal_frame& f : frames) {
      end = frame_end(half, f.offset);
      next_id = f.snapshot_id + 1;
      out.frame_bytes.emplace_back(half.begin() + static_cast<std::ptrdiff_t>(f.offset),
                                   half.begin() + static_cast<std::ptrdiff_t>(end));
      f.offset += base;
      out.frames.push_back(std::move(f));
    }
    // Where the half's frames end: a frame of the next snapshot that is not
    // intact, or anything else (zeros, an older frame, the rest of one).
    if (half.size() - end < storage::kJournalFrameHeaderBytes) continue;
    if (u64_at(half, end) != storage::kJournalFrameMagic) continue;
    const std::uint64_t id = u64_at(half, end + 8);
    if ((next_id != 0 && id != next_id) || id <= newest) continue;
    const std::uint64_t packed = u64_at(half, end + 16);
    const bool whole = packed <= half.size() - end - storage::kJournalFrameHeaderBytes;
    out.damaged.push_back({base + end, id,
                           whole ? "its checksum does not match its bytes, or its payload does not unpack (damaged, or "
                                   "torn by a crash while it was written)"
                                 : "it runs past the end of its half of the file (torn, or a damaged header)",
                           whole ? keys_of(half, end, id, name_of_key) : std::vector<std::string>{}});
  }
  return out;
}

}  // namespace instadump::cli

// Journal frames: layout, checksum, parsing (see journal_frame.h).
#include "storage/journal_frame.h"

#include <xxhash.h>

#include <cstring>
#include <memory>
#include <new>

namespace instadump::storage {
namespace {

std::uint64_t load_u64(const std::byte* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | std::to_integer<std::uint64_t>(p[i]);
  return v;
}

void store_u64(std::byte* p, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) {
    p[i] = static_cast<std::byte>(v & 0xff);
    v >>= 8;
  }
}

// The checksum of a frame: XXH3-64 of its first 24 header bytes (magic, id,
// payload size) followed by the payload.
class frame_hasher {
 public:
  frame_hasher() : state_(XXH3_createState()) {
    if (!state_) throw std::bad_alloc();
    XXH3_64bits_reset(state_.get());
  }
  void add(std::span<const std::byte> bytes) noexcept { XXH3_64bits_update(state_.get(), bytes.data(), bytes.size()); }
  std::uint64_t digest() const noexcept { return XXH3_64bits_digest(state_.get()); }

 private:
  struct deleter {
    void operator()(XXH3_state_t* s) const noexcept { XXH3_freeState(s); }
  };
  std::unique_ptr<XXH3_state_t, deleter> state_;
};

}  // namespace

std::vector<journal_frame> parse_journal_frames(std::span<const std::byte> bytes, std::uint64_t first_id) {
  std::vector<journal_frame> frames;
  std::uint64_t offset = 0;
  std::uint64_t expected = first_id;
  while (bytes.size() - offset >= kJournalFrameHeaderBytes) {
    const std::byte* header = bytes.data() + offset;
    if (load_u64(header) != kJournalFrameMagic) break;
    const std::uint64_t id = load_u64(header + 8);
    const std::uint64_t payload_bytes = load_u64(header + 16);
    const std::uint64_t room = bytes.size() - offset - kJournalFrameHeaderBytes;
    if (id == 0 || (expected != 0 && id != expected)) break;
    if (payload_bytes % 8 != 0 || payload_bytes > room) break;
    const auto payload = bytes.subspan(offset + kJournalFrameHeaderBytes, payload_bytes);
    frame_hasher hash;
    hash.add({header, 24});
    hash.add(payload);
    if (hash.digest() != load_u64(header + 24)) break;
    journal_frame& f = frames.emplace_back();
    f.snapshot_id = id;
    f.offset = offset;
    f.payload.resize(payload_bytes / 8);
    std::memcpy(f.payload.data(), payload.data(), payload_bytes);
    offset += kJournalFrameHeaderBytes + payload_bytes;
    expected = id + 1;
  }
  return frames;
}

void fill_journal_frame_header(std::byte* header, std::uint64_t snapshot_id,
                               std::span<const std::span<const std::byte>> parts) {
  std::uint64_t payload_bytes = 0;
  for (const auto& p : parts) payload_bytes += p.size();
  store_u64(header, kJournalFrameMagic);
  store_u64(header + 8, snapshot_id);
  store_u64(header + 16, payload_bytes);
  frame_hasher hash;
  hash.add({header, 24});
  for (const auto& p : parts) hash.add(p);
  store_u64(header + 24, hash.digest());
}

}  // namespace instadump::storage

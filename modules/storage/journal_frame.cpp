// Journal frames: layout, checksum, parsing (see journal_frame.h).
#include "storage/journal_frame.h"

#include <immintrin.h>
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
  return walk_journal_frames(bytes, first_id).frames;
}

journal_walk walk_journal_frames(std::span<const std::byte> bytes, std::uint64_t first_id, std::uint64_t keep_from) {
  journal_walk walk;
  walk.next_id = first_id;
  std::uint64_t& offset = walk.end;
  while (bytes.size() - offset >= kJournalFrameHeaderBytes) {
    const std::byte* header = bytes.data() + offset;
    if (load_u64(header) != kJournalFrameMagic) break;
    const std::uint64_t id = load_u64(header + 8);
    const std::uint64_t payload_bytes = load_u64(header + 16);
    const std::uint64_t unpacked_bytes = load_u64(header + 24);
    const std::uint64_t room = bytes.size() - offset - kJournalFrameHeaderBytes;
    if (id == 0 || (walk.next_id != 0 && id != walk.next_id)) break;
    walk.stopped_at_frame = true;  // (until it is accepted)
    if (payload_bytes % 8 != 0 || payload_bytes > room || unpacked_bytes % 8 != 0) break;
    if (unpacked_bytes > kJournalMaxUnpackedBytes || unpacked_bytes / 1024 > payload_bytes) break;
    if (id >= keep_from) {
      const auto payload = bytes.subspan(offset + kJournalFrameHeaderBytes, payload_bytes);
      frame_hasher hash;
      hash.add({header, 32});
      hash.add(payload);
      if (hash.digest() != load_u64(header + 32)) break;
      journal_frame f;
      f.snapshot_id = id;
      f.offset = offset;
      f.stored_bytes = kJournalFrameHeaderBytes + payload_bytes;
      f.payload.resize(unpacked_bytes / 8);
      if (!unpack_words(payload, std::as_writable_bytes(std::span(f.payload)))) break;
      walk.frames.push_back(std::move(f));
    }
    walk.stopped_at_frame = false;
    offset += kJournalFrameHeaderBytes + payload_bytes;
    walk.next_id = id + 1;
  }
  return walk;
}

std::uint64_t first_frame_id(std::span<const std::byte> bytes) {
  if (bytes.size() < kJournalFrameHeaderBytes) return 0;
  const std::uint64_t payload_bytes = load_u64(bytes.data() + 16);
  if (payload_bytes > bytes.size() - kJournalFrameHeaderBytes) return 0;
  const std::vector<journal_frame> first =
      parse_journal_frames(bytes.first(static_cast<std::size_t>(kJournalFrameHeaderBytes + payload_bytes)));
  return first.empty() ? 0 : first.front().snapshot_id;
}

std::optional<damaged_frame> find_damaged_frame(std::span<const std::byte> bytes, const journal_walk& walk) {
  if (!walk.stopped_at_frame) return std::nullopt;
  const std::uint64_t at = walk.end;
  if (bytes.size() - at < kJournalFrameHeaderBytes) return std::nullopt;
  const std::byte* header = bytes.data() + at;
  const std::uint64_t id = load_u64(header + 8);
  const std::uint64_t payload_bytes = load_u64(header + 16);
  if (id == UINT64_MAX) return std::nullopt;
  if (payload_bytes % 8 != 0 || payload_bytes > bytes.size() - at - kJournalFrameHeaderBytes) return std::nullopt;
  const std::uint64_t next = at + kJournalFrameHeaderBytes + payload_bytes;
  if (parse_journal_frames(bytes.subspan(next), id + 1).empty()) return std::nullopt;
  return damaged_frame{id, at};
}

void fill_journal_frame_header(std::byte* header, std::uint64_t snapshot_id, std::uint64_t unpacked_bytes,
                               std::span<const std::span<const std::byte>> parts) {
  std::uint64_t payload_bytes = 0;
  for (const auto& p : parts) payload_bytes += p.size();
  store_u64(header, kJournalFrameMagic);
  store_u64(header + 8, snapshot_id);
  store_u64(header + 16, payload_bytes);
  store_u64(header + 24, unpacked_bytes);
  frame_hasher hash;
  hash.add({header, 32});
  for (const auto& p : parts) hash.add(p);
  store_u64(header + 32, hash.digest());
}

namespace {

// Bit i set when byte i of `w` (little-endian) is not zero.
// The high bit of each byte of `w` that is not zero (adding 0x7f to the low
// seven bits carries into the high one unless they are all zero).
inline std::uint64_t nonzero_high_bits(std::uint64_t w) noexcept {
  return (((w & 0x7f7f7f7f7f7f7f7full) + 0x7f7f7f7f7f7f7f7full) | w) & 0x8080808080808080ull;
}

// Bit i set when byte i of `w` (little-endian) is not zero.
inline unsigned tag_of(std::uint64_t w) noexcept {
  return static_cast<unsigned>((nonzero_high_bits(w) * 0x0002040810204081ull) >> 56);  // gathers the high bits
}

// 0xff in each byte of `w` that is not zero, 0 in the others.
inline std::uint64_t nonzero_byte_mask(std::uint64_t w) noexcept { return (nonzero_high_bits(w) >> 7) * 0xff; }

inline std::uint64_t word_at(const std::byte* p) noexcept {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

// Writes the count after a tag of 0 (further zero words) or of 0xff (words
// with at most one zero byte, copied as they are) and what it covers, from
// word i on; returns the word after them.
inline std::size_t pack_run(unsigned tag, const std::byte* in, std::size_t i, std::size_t n, std::byte* o,
                            std::size_t& at) noexcept {
  std::size_t run = 0;
  if (tag == 0x00) {
    while (i + run < n && run < 255 && word_at(in + (i + run) * 8) == 0) ++run;
    o[at++] = static_cast<std::byte>(run);
  } else {
    while (i + run < n && run < 255 && __builtin_popcount(tag_of(word_at(in + (i + run) * 8))) >= 7) ++run;
    o[at++] = static_cast<std::byte>(run);
    std::memcpy(o + at, in + i * 8, run * 8);
    at += run * 8;
  }
  return i + run;
}

// The non-zero bytes of each word gathered with one PEXT instruction and
// stored as eight bytes, of which the next tag overwrites those beyond
// them: two thirds of the instructions of gathering them byte by byte (the
// frame of 1,000 small values: 90 K instead of 133 K). Only where PEXT is
// fast: AMD before Zen 3 runs it in microcode.
[[gnu::target("bmi2,popcnt")]] std::size_t pack_bmi2(const std::byte* in, std::size_t n, std::byte* o) noexcept {
  std::size_t at = 0;
  for (std::size_t i = 0; i < n;) {
    const std::uint64_t w = word_at(in + i * 8);
    const unsigned tag = tag_of(w);
    o[at++] = static_cast<std::byte>(tag);
    const std::uint64_t bytes = _pext_u64(w, nonzero_byte_mask(w));
    std::memcpy(o + at, &bytes, 8);
    at += static_cast<std::size_t>(__builtin_popcount(tag));
    ++i;
    if (tag == 0x00 || tag == 0xff) i = pack_run(tag, in, i, n, o, at);
  }
  return at;
}

bool pext_is_fast() noexcept {
  __builtin_cpu_init();
  return __builtin_cpu_supports("bmi2") && !__builtin_cpu_is("znver1") && !__builtin_cpu_is("znver2");
}

}  // namespace

namespace detail {

std::size_t pack_words_portable(std::span<const std::byte> words, std::byte* o) noexcept {
  const std::size_t n = words.size() / 8;
  const std::byte* in = words.data();
  std::size_t at = 0;
  for (std::size_t i = 0; i < n;) {
    const std::uint64_t w = word_at(in + i * 8);
    const unsigned tag = tag_of(w);
    o[at++] = static_cast<std::byte>(tag);
    for (unsigned bits = tag; bits != 0; bits &= bits - 1) {
      o[at++] = static_cast<std::byte>(w >> (8 * __builtin_ctz(bits)));
    }
    ++i;
    if (tag == 0x00 || tag == 0xff) i = pack_run(tag, in, i, n, o, at);
  }
  return at;
}

}  // namespace detail

std::size_t pack_words_into(std::span<const std::byte> words, std::byte* out) noexcept {
  static const bool fast = pext_is_fast();
  return fast ? pack_bmi2(words.data(), words.size() / 8, out) : detail::pack_words_portable(words, out);
}

void pack_words(std::span<const std::byte> words, std::vector<std::byte>& out) {
  const std::size_t at = out.size();
  out.resize(at + packed_bound(words.size()));
  out.resize(at + pack_words_into(words, out.data() + at));
}

// Cap'n Proto's packing, word by word: a tag byte whose bit i says whether
// byte i of the word is not zero, then those bytes. After a tag of 0, a
// count of further zero words follows; after a tag of 0xff (eight bytes
// given), a count of words copied as they are.
bool unpack_words(std::span<const std::byte> packed, std::span<std::byte> out) {
  std::size_t in = 0, at = 0;
  const std::size_t n = packed.size(), m = out.size();
  if (m % 8 != 0) return false;
  while (at < m) {
    if (in >= n) return false;
    const unsigned tag = std::to_integer<unsigned>(packed[in++]);
    for (int b = 0; b < 8; ++b) {
      if (tag & (1u << b)) {
        if (in >= n) return false;
        out[at + b] = packed[in++];
      } else {
        out[at + b] = std::byte{0};
      }
    }
    at += 8;
    if (tag == 0x00 || tag == 0xff) {
      if (in >= n) return false;
      const std::size_t count = std::to_integer<std::size_t>(packed[in++]) * 8;
      if (count > m - at) return false;
      if (tag == 0x00) {
        std::memset(out.data() + at, 0, count);
      } else {
        if (count > n - in) return false;
        std::memcpy(out.data() + at, packed.data() + in, count);
        in += count;
      }
      at += count;
    }
  }
  // Only the padding to a whole word may follow.
  if (n - in >= 8) return false;
  for (; in < n; ++in) {
    if (packed[in] != std::byte{0}) return false;
  }
  return true;
}

}  // namespace instadump::storage

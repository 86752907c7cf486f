// Encoding state values for a save (value_encoding.h).
#include "persist/value_encoding.h"

#include <capnp/any.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <utility>

#include "common/errors.h"
#include "common/limits.h"

namespace instadump::encoding {
namespace {

// Words of the reused scratch segment small values are built in, and of the
// chunks their bytes are kept in until the save is written.
constexpr std::size_t kScratchWords = 1024;
constexpr std::size_t kChunkWords = 8192;

kj::Array<capnp::word> zeroed_words(std::size_t n) {
  auto a = kj::heapArray<capnp::word>(n);
  std::memset(static_cast<void*>(a.begin()), 0, n * sizeof(capnp::word));
  return a;
}

// First segment size for encoding a value whose last encoding took
// `last_bytes`: big enough that a value of about the same size fits in one
// segment (one allocation, no regrowth), small for small values (the default
// of 1024 words costs 8 KiB of zeroed memory per ref).
unsigned first_segment_words(std::uint64_t last_bytes) {
  std::uint64_t words = last_bytes / sizeof(capnp::word);
  words += words / 8 + 16;
  return static_cast<unsigned>(std::min<std::uint64_t>(std::max<std::uint64_t>(words, 64), 1u << 28));
}

// Refuses the value of `name`, whose one segment takes `words`, when one
// stored value cannot be that large.
void check_value_words(std::uint64_t words, std::string_view name) {
  const std::uint64_t limit = limits::checked.value_words;
  if (words <= limit) return;
  throw limit_exceeded("instadump: cannot save ref '" + std::string(name) + "': its value takes " +
                           std::to_string(words) + " words (" + std::to_string(words * sizeof(capnp::word)) +
                           " bytes) encoded, and one stored value is one Cap'n Proto segment of at most " +
                           std::to_string(limit) + " words (README, \"Limits\"); split it into several states. "
                           "Nothing was written, the previous snapshots are intact",
                       limit, words);
}

// The words `message` would take as one segment: the root pointer plus
// everything it reaches (without the far pointers between its segments).
std::uint64_t one_segment_words(capnp::MessageBuilder& message) {
  return 1 + message.getRoot<capnp::AnyPointer>().asReader().targetSize().wordCount;
}

// Encodes the value as a message of one segment.
// The first segment is sized from the previous encoding; a value that
// outgrew it is encoded again into a segment of the size it turned out to
// need, so only values that grew pay twice.
std::unique_ptr<capnp::MallocMessageBuilder> encode_one_segment(encode_fn& encode, std::uint64_t last_bytes,
                                                                std::string_view name) {
  auto message = std::make_unique<capnp::MallocMessageBuilder>(first_segment_words(last_bytes));
  encode(*message);
  auto segments = message->getSegmentsForOutput();
  if (segments.size() == 1) {
    check_value_words(segments[0].size(), name);
    return message;
  }
  check_value_words(one_segment_words(*message), name);
  std::size_t words = 0;
  for (const auto& s : segments) words += s.size();
  message.reset();  // before the second encoding: the two need not coexist
  message = std::make_unique<capnp::MallocMessageBuilder>(static_cast<unsigned>(std::min<std::size_t>(words, 1u << 29)),
                                                          capnp::AllocationStrategy::FIXED_SIZE);
  encode(*message);
  if (message->getSegmentsForOutput().size() != 1) {
    throw limit_exceeded("instadump: the value of ref '" + std::string(name) + "' does not fit one message segment (" +
                             std::to_string(words) + " words); it is too large to save (README, \"Limits\")",
                         limits::value_words, words);
  }
  return message;
}

// A message builder whose one segment is space the store reserved (zeroed by
// the caller), so that a large value is encoded straight into the store's
// pages. When the value does not fit, it still builds (in more segments,
// from the heap) and says how many words one segment would need.
class room_builder final : public capnp::MessageBuilder {
 public:
  explicit room_builder(kj::ArrayPtr<capnp::word> room) : room_(room) {}
  kj::ArrayPtr<capnp::word> allocateSegment(unsigned minimum_size) override {
    if (!gave_room_ && minimum_size <= room_.size()) {
      gave_room_ = true;
      return room_;
    }
    overflow_.push_back(kj::heapArray<capnp::word>(std::max<std::size_t>(minimum_size, room_.size() / 4 + 1024)));
    std::memset(static_cast<void*>(overflow_.back().begin()), 0, overflow_.back().size() * sizeof(capnp::word));
    return overflow_.back();
  }
  bool fits() { return overflow_.empty(); }

 private:
  kj::ArrayPtr<capnp::word> room_;
  bool gave_room_ = false;
  std::vector<kj::Array<capnp::word>> overflow_;
};

// A message builder for measuring a value: its first segment is a reused
// scratch, further ones are mapped from the kernel (zeroed, as Cap'n Proto
// needs) and given back when the builder goes. So the memory a measured
// large value took is returned, not kept by malloc: a first save needs about
// one copy of the value at a time, not the measured one plus the store's.
// Segments grow with the message (no more than about log n of them), and
// the unused end of the last one is never touched, so never resident.
class measuring_builder final : public capnp::MessageBuilder {
 public:
  explicit measuring_builder(kj::ArrayPtr<capnp::word> scratch) : scratch_(scratch), next_words_(scratch.size()) {}
  ~measuring_builder() override {
    for (const auto& [at, bytes] : mapped_) ::munmap(at, bytes);
    // (The scratch is reused: zero what was written of it.)
    if (gave_scratch_) {
      if (first_words_ == kUnknown) {
        auto segments = getSegmentsForOutput();
        first_words_ = segments.size() > 0 ? segments[0].size() : 0;
      }
      std::memset(scratch_.begin(), 0, first_words_ * sizeof(capnp::word));
    }
  }
  // Tells the builder how many words of its first segment were used (what
  // getSegmentsForOutput() said), so that its destructor need not ask again.
  void note_first_segment_words(std::size_t words) noexcept { first_words_ = words; }
  kj::ArrayPtr<capnp::word> allocateSegment(unsigned minimum_size) override {
    // The scratch can only be the first segment (the destructor zeroes it
    // as much as segment 0 used).
    const bool first = !allocated_any_;
    allocated_any_ = true;
    if (first && minimum_size <= scratch_.size()) {
      gave_scratch_ = true;
      return scratch_;
    }
    const std::size_t words = std::max<std::size_t>(minimum_size, next_words_);
    void* p = ::mmap(nullptr, words * sizeof(capnp::word), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    mapped_.emplace_back(p, words * sizeof(capnp::word));
    next_words_ = std::min<std::size_t>(next_words_ + words, std::size_t{1} << 28);
    return kj::arrayPtr(static_cast<capnp::word*>(p), words);
  }

 private:
  static constexpr std::size_t kUnknown = ~std::size_t{0};
  kj::ArrayPtr<capnp::word> scratch_;
  std::size_t first_words_ = kUnknown;
  bool allocated_any_ = false;
  bool gave_scratch_ = false;
  std::size_t next_words_;
  std::vector<std::pair<void*, std::size_t>> mapped_;  // munmap'ed in the destructor
};

}  // namespace

std::size_t room_for(std::uint64_t last_bytes) {
  return (last_bytes + last_bytes / 32 + 4096 + 7) / 8 * 8;
}

std::size_t encode_in_place(encode_fn encode, std::span<std::byte> room, std::string_view name) {
  std::memset(room.data(), 0, room.size());
  room_builder message(kj::arrayPtr(reinterpret_cast<capnp::word*>(room.data()), room.size() / 8));
  encode(message);
  std::size_t words = 0;
  for (const auto& seg : message.getSegmentsForOutput()) words += seg.size();
  check_value_words(message.fits() ? words : one_segment_words(message), name);
  if (message.fits()) return words * sizeof(capnp::word);
  // Not fitting: one segment would need at most what all of them took.
  return std::max(words * sizeof(capnp::word), room.size() + 8);
}

value_encoder::encoded value_encoder::encode(encode_fn encode, std::uint64_t last_bytes, std::string_view name) {
  if (last_bytes <= kScratchWords * sizeof(capnp::word) / 2) {
    if (scratch_.size() == 0) scratch_ = zeroed_words(kScratchWords);
    // (The builder zeroes what it used of the scratch when it goes.)
    std::size_t words = 0;
    {
      measuring_builder message(scratch_.asPtr());
      encode(message);
      auto segments = message.getSegmentsForOutput();
      message.note_first_segment_words(segments[0].size());
      words = segments.size() == 1 ? segments[0].size() : one_segment_words(message);
      check_value_words(words, name);
      if (segments.size() == 1) return {keep(segments[0])};
    }
    last_bytes = words * sizeof(capnp::word);
    if (last_bytes >= kInPlaceBytes) return {{}, last_bytes};
  }
  large_.push_back(encode_one_segment(encode, last_bytes, name));
  return {large_.back()->getSegmentsForOutput()[0]};
}

kj::ArrayPtr<const capnp::word> value_encoder::encode_words(words_fn write, std::size_t max_words) {
  capnp::word* at = room(max_words);
  const std::size_t n = write(std::span<capnp::word>(at, max_words));
  if (n == 0 || n > max_words) return {};
  chunk_used_ += n;
  return kj::arrayPtr(static_cast<const capnp::word*>(at), n);
}

capnp::word* value_encoder::room(std::size_t words) {
  if (chunks_.empty() || chunks_.back().size() - chunk_used_ < words) {
    chunks_.push_back(kj::heapArray<capnp::word>(std::max(kChunkWords, words)));
    chunk_used_ = 0;
  }
  return chunks_.back().begin() + chunk_used_;
}

kj::ArrayPtr<const capnp::word> value_encoder::keep(kj::ArrayPtr<const capnp::word> words) {
  capnp::word* at = room(words.size());
  std::memcpy(static_cast<void*>(at), words.begin(), words.size() * sizeof(capnp::word));
  chunk_used_ += words.size();
  return kj::arrayPtr(static_cast<const capnp::word*>(at), words.size());
}

}  // namespace instadump::encoding

// A bounds-checked reader of Cap'n Proto's wire format, for the decoders
// instadump-codegen generates.
//
// Why not Cap'n Proto's own readers: every text, list and struct they hand
// out goes through an out-of-line, general-purpose accessor in libcapnp
// (pointer kind dispatch, list upgrades, default values, capabilities), which
// cost a state of a million structs about as much as building its C++ value.
// The generated decoders know each field's offset when they are compiled
// (instadump-codegen reads them from the Cap'n Proto compiler itself), so
// they read through the small inline accessors here instead.
//
// The message is untrusted: every pointer is checked against its segment,
// every element size against what the schema expects, and each message has
// a traversal budget (words read, as Cap'n Proto's traversalLimitInWords,
// so that pointers aliasing one list cannot make decoding superlinear) and
// a nesting limit (for recursive types). Any violation throws
// wire::malformed_data, naming what was wrong; nothing here can read outside
// the message. Far pointers (messages of several segments, as older stores
// hold) are followed.
//
// Readers are small values that borrow the message: they must not outlive
// the message_reader (and its capnp::MessageReader) they came from.
// Not an API for hand-written code: names follow what the generator emits.
#pragma once

#include "instadump/capnp_compat.h"  // before any Cap'n Proto header

#include <capnp/message.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "common/errors.h"  // installed with the runtime headers (see codec_support.h)

namespace instadump::wire {

// The message breaks the wire format (or a limit): a pointer outside its
// segment, a list whose elements are not what the schema says, too deep or
// too much to traverse: the stored bytes are damaged.
struct malformed_data : ::instadump::corrupt_data {
  using ::instadump::corrupt_data::corrupt_data;
};

// Every failure path is out of line and marked cold, so that the accessors
// below stay small enough to inline into the generated loops: a decoder of
// a million structs pays for the checks, not for building error messages.
[[noreturn, gnu::cold, gnu::noinline]] inline void fail(const std::string& what) { throw malformed_data(what); }
[[noreturn, gnu::cold, gnu::noinline]] inline void fail(const char* what) { throw malformed_data(what); }

// On the paths a decoder takes for every value: always inlined (the
// compiler's heuristics otherwise keep some out of line in large decoders).
#define INSTADUMP_WIRE_HOT [[gnu::always_inline]] inline

using word = std::uint64_t;

// Element sizes of list pointers, as the wire format numbers them.
enum class element : std::uint8_t { void_ = 0, bit = 1, byte = 2, two = 3, four = 4, eight = 5, pointer = 6, composite = 7 };

namespace detail {

INSTADUMP_WIRE_HOT word load_word(const word* at) {
  word w;
  std::memcpy(&w, at, sizeof w);
  return w;
}

// One segment, as word indexes: pointers are followed as indexes, so that no
// pointer into the message is formed before it is known to be inside it.
struct segment {
  const word* begin = nullptr;
  std::size_t size = 0;
};

// The signed 30-bit offset (in words) of a struct or list pointer.
INSTADUMP_WIRE_HOT std::int64_t pointer_offset(word w) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(w)) >> 2;
}

}  // namespace detail

class struct_reader;
class list_reader;

// The segments of one message and what reading it may still cost.
class message_reader {
 public:
  // The message's ReaderOptions bound the traversal and the nesting, as for
  // Cap'n Proto's readers (the store derives them from the value's size).
  explicit message_reader(capnp::MessageReader& message)
      : message_(message),
        budget_(static_cast<std::int64_t>(std::min<std::uint64_t>(message.getOptions().traversalLimitInWords,
                                                                  std::uint64_t{1} << 62))),
        nesting_limit_(message.getOptions().nestingLimit) {
    auto first = message.getSegment(0);
    first_ = {reinterpret_cast<const word*>(first.begin()), first.size()};
  }
  message_reader(const message_reader&) = delete;
  message_reader& operator=(const message_reader&) = delete;

  // The root struct (all defaults when the message holds a null root).
  struct_reader root();

  // Segment `id`; throws when the message has none of that number.
  const detail::segment& segment(std::uint32_t id) {
    if (id == 0) return first_;
    for (auto& [n, s] : others_) {
      if (n == id) return s;
    }
    auto words = message_.getSegment(id);
    if (words.size() == 0) fail("a far pointer names segment " + std::to_string(id) + ", which the message lacks");
    others_.push_back({id, {reinterpret_cast<const word*>(words.begin()), words.size()}});
    return others_.back().second;
  }

  // Charges `words` of traversal; throws once the budget is spent.
  [[gnu::always_inline]] void charge(std::uint64_t words) {
    budget_ -= static_cast<std::int64_t>(std::min<std::uint64_t>(words, std::uint64_t{1} << 62));
    if (budget_ < 0) [[unlikely]] {
      fail("the message reads more words than its traversal limit allows (pointers to shared data?)");
    }
  }

  int nesting_limit() const { return nesting_limit_; }

 private:
  capnp::MessageReader& message_;
  detail::segment first_;
  std::deque<std::pair<std::uint32_t, detail::segment>> others_;  // (id, segment), for far pointers; a deque, as readers point into it
  std::int64_t budget_;
  int nesting_limit_;
};

namespace detail {

// Where a pointer leads: the word describing the target (a struct or list
// pointer; for a far pointer, its landing pad's) and the target's first
// word, checked to lie in (or at the end of) its segment.
struct target {
  word tag = 0;
  const segment* seg = nullptr;
  std::size_t at = 0;  // word index of the target in seg
};

// The failures whose messages carry details (see fail()).
[[noreturn, gnu::cold, gnu::noinline]] inline void fail_outside(const char* what) {
  fail(std::string("a ") + what + " pointer points outside its segment");
}
[[noreturn, gnu::cold, gnu::noinline]] inline void fail_element_size(element found, element expected) {
  fail("a list's element size is " + std::to_string(static_cast<int>(found)) + " where the schema has " +
       std::to_string(static_cast<int>(expected)));
}
[[noreturn, gnu::cold, gnu::noinline]] inline void fail_index(std::uint32_t i, std::uint32_t count) {
  fail("list index " + std::to_string(i) + " out of range (" + std::to_string(count) + ")");
}

INSTADUMP_WIRE_HOT std::size_t checked_index(const segment& s, std::int64_t index, const char* what) {
  // One unsigned comparison also rejects negative indexes.
  if (static_cast<std::uint64_t>(index) > s.size) [[unlikely]] fail_outside(what);
  return static_cast<std::size_t>(index);
}

// Follows the far pointer `w` (to a landing pad in another segment). Out
// of line: messages written by this library have one segment.
[[gnu::noinline]] inline target follow_far(message_reader& m, word w) {
  const segment& pad_seg = m.segment(static_cast<std::uint32_t>(w >> 32));
  const std::size_t pad = static_cast<std::size_t>((w >> 3) & 0x1fffffff);
  const bool double_far = (w >> 2) & 1;
  if (pad + (double_far ? 2 : 1) > pad_seg.size) fail("a far pointer's landing pad lies outside its segment");
  const word pw = load_word(pad_seg.begin + pad);
  if (!double_far) {
    if ((pw & 3) == 2) fail("a far pointer lands on another far pointer");
    return {pw, &pad_seg, checked_index(pad_seg, static_cast<std::int64_t>(pad) + 1 + pointer_offset(pw), "landing pad")};
  }
  // Double far: the pad is a far pointer to the content and then a tag
  // describing it.
  if ((pw & 7) != 2) fail("a double-far landing pad does not start with a single far pointer");
  const segment& content = m.segment(static_cast<std::uint32_t>(pw >> 32));
  const std::size_t at = static_cast<std::size_t>((pw >> 3) & 0x1fffffff);
  if (at > content.size) fail("a double-far pointer points outside its segment");
  return {load_word(pad_seg.begin + pad + 1), &content, at};
}

// Follows the non-null pointer word at index `p` of segment `s`.
INSTADUMP_WIRE_HOT target follow(message_reader& m, const segment& s, std::size_t p) {
  const word w = load_word(s.begin + p);
  if ((w & 3) == 2) [[unlikely]] return follow_far(m, w);
  return {w, &s, checked_index(s, static_cast<std::int64_t>(p) + 1 + pointer_offset(w), "struct or list")};
}

}  // namespace detail

// A struct in the message: data fields by offset (in units of the field's
// size) and pointer fields by index. Fields beyond the struct's sections
// (written by an older schema) read as zero / null, as Cap'n Proto's do.
class struct_reader {
 public:
  struct_reader() = default;

  // Data field `index` (in units of sizeof(T)): an integer, float or double.
  template <class T>
  T data(std::uint32_t index) const {
    static_assert(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>, "use bit() for Bool fields");
    if ((std::uint64_t{index} + 1) * sizeof(T) > data_words_ * sizeof(word)) return T{};
    T v;
    std::memcpy(&v, reinterpret_cast<const unsigned char*>(data_) + std::size_t{index} * sizeof(T), sizeof v);
    return v;
  }

  // Bool field `index` (in bits).
  bool bit(std::uint32_t index) const {
    if (index / 64 >= data_words_) return false;
    return (detail::load_word(data_ + index / 64) >> (index % 64)) & 1;
  }

  // Text field `index` (without its NUL); "" when null.
  std::string_view text(std::uint16_t index) const;
  // Data field `index`; empty when null.
  std::span<const std::byte> blob(std::uint16_t index) const;
  // Struct field `index`; all defaults when null.
  struct_reader child(std::uint16_t index) const;
  // List field `index`, whose elements must be of size `kind`; empty when null.
  list_reader list(std::uint16_t index, element kind) const;

 private:
  friend class list_reader;
  friend struct_reader read_struct(message_reader&, const detail::segment&, std::size_t, int);

  // Whether pointer field `index` is present and not null; if so, `at` is
  // its word index in seg_.
  bool pointer_at(std::uint16_t index, std::size_t& at) const {
    if (index >= pointer_count_) return false;
    at = pointers_ + index;
    return detail::load_word(seg_->begin + at) != 0;
  }

  message_reader* message_ = nullptr;
  const detail::segment* seg_ = nullptr;
  const word* data_ = nullptr;
  std::size_t pointers_ = 0;  // word index of the pointer section in seg_
  std::uint32_t data_words_ = 0;
  std::uint16_t pointer_count_ = 0;
  int depth_ = 0;  // how many more structs or lists may be nested below
};

// A list in the message, of the element size its decoder expects.
class list_reader {
 public:
  list_reader() = default;

  std::uint32_t size() const { return count_; }

  // Element i of a list of integers, floats or enums (their uint16).
  template <class T>
  T get(std::uint32_t i) const {
    static_assert(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>, "use bit() for List(Bool)");
    check(i);
    T v;
    std::memcpy(&v, reinterpret_cast<const unsigned char*>(seg_->begin + at_) + std::size_t{i} * sizeof(T), sizeof v);
    return v;
  }
  bool bit(std::uint32_t i) const {
    check(i);
    return (detail::load_word(seg_->begin + at_ + i / 64) >> (i % 64)) & 1;
  }
  std::string_view text(std::uint32_t i) const;
  std::span<const std::byte> blob(std::uint32_t i) const;
  struct_reader struct_at(std::uint32_t i) const;
  list_reader list_at(std::uint32_t i, element kind) const;

 private:
  friend class struct_reader;
  friend list_reader read_list(message_reader&, const detail::segment&, std::size_t, int, element);

  [[gnu::always_inline]] void check(std::uint32_t i) const {
    if (i >= count_) [[unlikely]] detail::fail_index(i, count_);
  }

  message_reader* message_ = nullptr;
  const detail::segment* seg_ = nullptr;
  std::size_t at_ = 0;  // word index of the first element in seg_
  std::uint32_t count_ = 0;
  std::uint32_t struct_data_words_ = 0;  // composite lists: each element's sections
  std::uint16_t struct_pointers_ = 0;
  int depth_ = 0;  // of each element's contents
};

// The struct the non-null pointer at word `p` of `s` leads to.
INSTADUMP_WIRE_HOT struct_reader read_struct(message_reader& m, const detail::segment& s, std::size_t p, int depth) {
  if (depth <= 0) fail("the message nests structs and lists deeper than the nesting limit");
  const detail::target t = detail::follow(m, s, p);
  if ((t.tag & 3) != 0) fail("a struct field holds a pointer that is not a struct pointer");
  const std::uint32_t data_words = static_cast<std::uint32_t>((t.tag >> 32) & 0xffff);
  const std::uint16_t pointers = static_cast<std::uint16_t>(t.tag >> 48);
  const std::uint64_t words = std::uint64_t{data_words} + pointers;
  if (words > t.seg->size - t.at) fail("a struct extends past the end of its segment");
  m.charge(words);
  struct_reader r;
  r.message_ = &m;
  r.seg_ = t.seg;
  r.data_ = t.seg->begin + t.at;
  r.pointers_ = t.at + data_words;
  r.data_words_ = data_words;
  r.pointer_count_ = pointers;
  r.depth_ = depth - 1;
  return r;
}

// The list the non-null pointer at word `p` of `s` leads to, whose
// elements must be of size `kind`.
INSTADUMP_WIRE_HOT list_reader read_list(message_reader& m, const detail::segment& s, std::size_t p, int depth,
                                         element kind) {
  if (depth <= 0) fail("the message nests structs and lists deeper than the nesting limit");
  const detail::target t = detail::follow(m, s, p);
  if ((t.tag & 3) != 1) fail("a list field holds a pointer that is not a list pointer");
  const auto size = static_cast<element>((t.tag >> 32) & 7);
  const std::uint32_t n = static_cast<std::uint32_t>(t.tag >> 35);
  if (size != kind) [[unlikely]] detail::fail_element_size(size, kind);
  list_reader r;
  r.message_ = &m;
  r.seg_ = t.seg;
  r.depth_ = depth - 1;
  const std::size_t room = t.seg->size - t.at;
  if (kind == element::composite) {
    // n counts words after the tag, which gives the element count and sizes.
    if (room < 1 || n > room - 1) fail("a list of structs extends past the end of its segment");
    const word tag = detail::load_word(t.seg->begin + t.at);
    if ((tag & 3) != 0) fail("a list of structs has a malformed tag word");
    const std::uint32_t count = static_cast<std::uint32_t>(tag) >> 2;
    r.struct_data_words_ = static_cast<std::uint32_t>((tag >> 32) & 0xffff);
    r.struct_pointers_ = static_cast<std::uint16_t>(tag >> 48);
    const std::uint64_t step = std::uint64_t{r.struct_data_words_} + r.struct_pointers_;
    if (step * count > n) fail("a list of structs holds more elements than its words");
    // Elements of no words still cost one each, so that a short message
    // cannot make a decoder build millions of empty values.
    m.charge(step == 0 ? count : n);
    r.at_ = t.at + 1;
    r.count_ = count;
    return r;
  }
  static constexpr unsigned bits[] = {0, 1, 8, 16, 32, 64, 64, 0};
  const std::uint64_t words = (std::uint64_t{n} * bits[static_cast<int>(kind)] + 63) / 64;
  if (words > room) fail("a list extends past the end of its segment");
  m.charge(kind == element::void_ ? n : words);
  r.at_ = t.at;
  r.count_ = n;
  return r;
}

namespace detail {

// A Text or Data blob: a list of bytes at pointer word `p` (non-null).
INSTADUMP_WIRE_HOT std::span<const std::byte> read_bytes(message_reader& m, const segment& s, std::size_t p) {
  const target t = follow(m, s, p);
  if ((t.tag & 3) != 1 || ((t.tag >> 32) & 7) != static_cast<word>(element::byte)) {
    fail("a Text or Data field holds a pointer that is not a list of bytes");
  }
  const std::uint32_t n = static_cast<std::uint32_t>(t.tag >> 35);
  const std::uint64_t words = (std::uint64_t{n} + 7) / 8;
  if (words > t.seg->size - t.at) fail("a Text or Data value extends past the end of its segment");
  m.charge(words);
  return {reinterpret_cast<const std::byte*>(t.seg->begin + t.at), n};
}

INSTADUMP_WIRE_HOT std::string_view read_text(message_reader& m, const segment& s, std::size_t p) {
  const auto bytes = read_bytes(m, s, p);
  if (bytes.empty() || bytes.back() != std::byte{0}) fail("a Text value is not NUL-terminated");
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size() - 1};
}

}  // namespace detail

inline struct_reader message_reader::root() {
  if (first_.size == 0) fail("the message is empty");
  if (detail::load_word(first_.begin) == 0) return {};  // no sections: every field reads its default
  return read_struct(*this, first_, 0, nesting_limit_);
}

INSTADUMP_WIRE_HOT std::string_view struct_reader::text(std::uint16_t index) const {
  std::size_t at;
  if (!pointer_at(index, at)) return {};
  return detail::read_text(*message_, *seg_, at);
}
INSTADUMP_WIRE_HOT std::span<const std::byte> struct_reader::blob(std::uint16_t index) const {
  std::size_t at;
  if (!pointer_at(index, at)) return {};
  return detail::read_bytes(*message_, *seg_, at);
}
INSTADUMP_WIRE_HOT struct_reader struct_reader::child(std::uint16_t index) const {
  std::size_t at;
  if (!pointer_at(index, at)) return {};  // no sections: every field reads its default
  return read_struct(*message_, *seg_, at, depth_);
}
INSTADUMP_WIRE_HOT list_reader struct_reader::list(std::uint16_t index, element kind) const {
  std::size_t at;
  if (!pointer_at(index, at)) return {};
  return read_list(*message_, *seg_, at, depth_, kind);
}

INSTADUMP_WIRE_HOT std::string_view list_reader::text(std::uint32_t i) const {
  check(i);
  if (detail::load_word(seg_->begin + at_ + i) == 0) return {};
  return detail::read_text(*message_, *seg_, at_ + i);
}
INSTADUMP_WIRE_HOT std::span<const std::byte> list_reader::blob(std::uint32_t i) const {
  check(i);
  if (detail::load_word(seg_->begin + at_ + i) == 0) return {};
  return detail::read_bytes(*message_, *seg_, at_ + i);
}
INSTADUMP_WIRE_HOT struct_reader list_reader::struct_at(std::uint32_t i) const {
  check(i);
  const std::size_t step = std::size_t{struct_data_words_} + struct_pointers_;
  struct_reader r;
  r.message_ = message_;
  r.seg_ = seg_;
  r.data_ = seg_->begin + at_ + std::size_t{i} * step;
  r.pointers_ = at_ + std::size_t{i} * step + struct_data_words_;
  r.data_words_ = struct_data_words_;
  r.pointer_count_ = struct_pointers_;
  r.depth_ = depth_;
  return r;
}
INSTADUMP_WIRE_HOT list_reader list_reader::list_at(std::uint32_t i, element kind) const {
  check(i);
  if (detail::load_word(seg_->begin + at_ + i) == 0) return {};
  return read_list(*message_, *seg_, at_ + i, depth_, kind);
}

#undef INSTADUMP_WIRE_HOT

}  // namespace instadump::wire

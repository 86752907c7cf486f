// entry_column (entry_column.h): the `entry` column's layout.
#include "replication/entry_column.h"

#include <bit>
#include <cstring>
#include <string>

#include "common/errors.h"

namespace instadump::replication {
namespace {

constexpr std::uint8_t kRemovedFlag = 1;
constexpr std::uint8_t kFramedFlag = 2;
constexpr std::size_t kRootBytes = 8;

std::uint64_t swap_bytes(std::uint64_t v) { return __builtin_bswap64(v); }
std::uint32_t swap_bytes(std::uint32_t v) { return __builtin_bswap32(v); }

template <class T>
void put_big_endian(std::byte* at, T v) {
  if constexpr (std::endian::native == std::endian::little) v = swap_bytes(v);
  std::memcpy(at, &v, sizeof v);
}
template <class T>
T get_big_endian(const std::byte* at) {
  T v;
  std::memcpy(&v, at, sizeof v);
  if constexpr (std::endian::native == std::endian::little) v = swap_bytes(v);
  return v;
}

[[noreturn]] void not_an_entry(std::string_view where, const std::string& what) {
  throw replication_error("instadump replication: the entry of " + std::string(where) + " in instadump.entries " +
                          what + "; the copy is damaged or was written by another program");
}

// Decodes flags, metadata and roots; returns where the value's bytes start.
std::size_t decode_head(std::span<const std::byte> in, read_entry& out, std::string_view where) {
  if (in.empty()) not_an_entry(where, "is empty");
  const auto flags = std::to_integer<std::uint8_t>(in[0]);
  if (flags & ~(kRemovedFlag | kFramedFlag)) not_an_entry(where, "has unknown flags " + std::to_string(flags));
  if (flags & kRemovedFlag) {
    if (in.size() != 1 || (flags & kFramedFlag)) not_an_entry(where, "says removed but holds more than that");
    out.removed = true;
    return 1;
  }
  if (in.size() < kEntryFixedHeadBytes) {
    not_an_entry(where, "is " + std::to_string(in.size()) + " bytes, shorter than its " +
                            std::to_string(kEntryFixedHeadBytes) + "-byte head");
  }
  const std::byte* p = in.data();
  out.entry.framed = (flags & kFramedFlag) != 0;
  out.entry.schema.fingerprint = get_big_endian<std::uint64_t>(p + 1);
  out.entry.schema.version = get_big_endian<std::uint32_t>(p + 9);
  out.entry.checksum = get_big_endian<std::uint64_t>(p + 13);
  const std::uint32_t roots = get_big_endian<std::uint32_t>(p + 21);
  if (roots > (in.size() - kEntryFixedHeadBytes) / kRootBytes) {
    not_an_entry(where, "claims " + std::to_string(roots) + " chunk roots, more than its " +
                            std::to_string(in.size()) + " bytes hold");
  }
  out.entry.chunk_roots.resize(roots);
  for (std::uint32_t i = 0; i < roots; ++i) {
    std::uint64_t id;
    std::memcpy(&id, p + kEntryFixedHeadBytes + kRootBytes * i, kRootBytes);
    if constexpr (std::endian::native == std::endian::big) id = swap_bytes(id);
    out.entry.chunk_roots[i] = id;
  }
  return kEntryFixedHeadBytes + kRootBytes * roots;
}

}  // namespace

std::size_t entry_bytes(const copy_entry& e, std::size_t value_bytes) {
  return kEntryFixedHeadBytes + kRootBytes * e.chunk_roots.size() + value_bytes;
}

void write_entry(std::span<std::byte> out, const copy_entry& e, std::span<const std::byte> bytes) {
  std::byte* p = out.data();
  p[0] = std::byte{e.framed ? kFramedFlag : std::uint8_t{0}};
  put_big_endian<std::uint64_t>(p + 1, e.schema.fingerprint);
  put_big_endian<std::uint32_t>(p + 9, e.schema.version);
  put_big_endian<std::uint64_t>(p + 13, e.checksum);
  put_big_endian<std::uint32_t>(p + 21, static_cast<std::uint32_t>(e.chunk_roots.size()));
  p += kEntryFixedHeadBytes;
  for (std::uint64_t id : e.chunk_roots) {
    if constexpr (std::endian::native == std::endian::big) id = swap_bytes(id);
    std::memcpy(p, &id, kRootBytes);
    p += kRootBytes;
  }
  if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
}

read_entry decode_entry(std::span<const std::byte> entry, std::string_view where) {
  read_entry out;
  const std::size_t at = decode_head(entry, out, where);
  out.bytes = entry.subspan(at);
  out.entry.size_bytes = out.bytes.size();
  return out;
}

read_entry decode_entry_head(std::span<const std::byte> head, std::int64_t entry_bytes, std::string_view where) {
  read_entry out;
  const std::size_t at = decode_head(head, out, where);
  if (at != head.size() || entry_bytes < static_cast<std::int64_t>(at)) {
    not_an_entry(where, "has a head of " + std::to_string(head.size()) + " bytes in " +
                            std::to_string(entry_bytes) + ", where its flags and roots say " + std::to_string(at));
  }
  if (out.removed && entry_bytes != 1) not_an_entry(where, "says removed but holds more than that");
  out.entry.size_bytes = static_cast<std::uint64_t>(entry_bytes) - at;
  return out;
}

std::string entry_head_sql(std::string_view entry) {
  const std::string e(entry);
  return "CASE WHEN length(" + e + ") < 25 THEN " + e + " ELSE substring(" + e + " FOR 25 + 8 * (SELECT "
         "(get_byte(h, 21) << 24) | (get_byte(h, 22) << 16) | (get_byte(h, 23) << 8) | get_byte(h, 24) "
         "FROM (SELECT substring(" + e + " FOR 25) AS h) prefix)) END";
}

}  // namespace instadump::replication

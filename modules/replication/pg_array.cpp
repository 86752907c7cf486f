// pg_array (pg_array.h): PostgreSQL's binary array format.
#include "replication/pg_array.h"

#include <arpa/inet.h>

#include <bit>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace instadump::replication {
namespace {

// The header of a one-dimensional array without nulls: ndim, has-nulls
// flag, element type, then the dimension's length and lower bound (1).
constexpr std::size_t kHeaderBytes = 5 * 4;
constexpr std::size_t kLengthAt = 3 * 4;

void put_u32(char* at, std::uint32_t v) {
  v = htonl(v);
  std::memcpy(at, &v, 4);
}

}  // namespace

pg_array::pg_array(element type) : type_(type), buffer_(kHeaderBytes) {
  put_u32(buffer_.data(), 1);
  put_u32(buffer_.data() + 4, 0);
  put_u32(buffer_.data() + 8, static_cast<unsigned>(type));
  put_u32(buffer_.data() + 16, 1);
}

char* pg_array::element_of(element type, std::size_t length) {
  if (type != type_) throw std::logic_error("pg_array: element of another type than the array's");
  if (length > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
    throw std::length_error("pg_array: element of more than 2 GiB");
  }
  const std::size_t at = buffer_.size();
  buffer_.resize(at + 4 + length);
  put_u32(buffer_.data() + at, static_cast<std::uint32_t>(length));
  ++count_;
  return buffer_.data() + at + 4;
}

void pg_array::element_of(element type, const void* data, std::size_t length) {
  char* room = element_of(type, length);
  if (length != 0) std::memcpy(room, data, length);
}

std::span<std::byte> pg_array::bytes_slot(std::size_t length) {
  return {reinterpret_cast<std::byte*>(element_of(element::bytea, length)), length};
}

pg_array& pg_array::i64(std::int64_t v) {
  std::uint64_t be = static_cast<std::uint64_t>(v);
  if constexpr (std::endian::native == std::endian::little) be = __builtin_bswap64(be);
  element_of(element::int8, &be, 8);
  return *this;
}

pg_array& pg_array::i32(std::int32_t v) {
  const std::uint32_t be = htonl(static_cast<std::uint32_t>(v));
  element_of(element::int4, &be, 4);
  return *this;
}

pg_array& pg_array::boolean(bool v) {
  const char b = v ? 1 : 0;
  element_of(element::boolean, &b, 1);
  return *this;
}

pg_array& pg_array::text(std::string_view v) {
  element_of(element::text, v.data(), v.size());
  return *this;
}

pg_array& pg_array::bytes(std::span<const std::byte> v) {
  element_of(element::bytea, v.data(), v.size());
  return *this;
}

unsigned pg_array::array_oid() const {
  switch (type_) {
    case element::boolean: return 1000;
    case element::bytea: return 1001;
    case element::int8: return 1016;
    case element::int4: return 1007;
    case element::text: return 1009;
  }
  return 0;
}

std::span<const char> pg_array::encoded() const {
  put_u32(buffer_.data() + kLengthAt, static_cast<std::uint32_t>(count_));
  return buffer_;
}

}  // namespace instadump::replication

// One-dimensional PostgreSQL arrays in binary format (array_send's layout),
// built element by element and passed as one statement parameter: a
// snapshot's thousand rows then cross as a few arrays unnested by the
// server -- one statement, a fixed number of parameters -- instead of
// thousands of placeholders parsed and bound one by one.
//
// Elements are copied into the array's own buffer; none may be null.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace instadump::replication {

class pg_array {
 public:
  // The element types we send (their PostgreSQL type oids).
  enum class element : unsigned { boolean = 16, bytea = 17, int8 = 20, int4 = 23, text = 25 };

  explicit pg_array(element type);

  // Appends one element; the method must match the array's element type
  // (checked: a mismatch is a bug and throws std::logic_error).
  pg_array& i64(std::int64_t v);
  pg_array& u64(std::uint64_t v) { return i64(static_cast<std::int64_t>(v)); }
  pg_array& i32(std::int32_t v);
  pg_array& boolean(bool v);
  pg_array& text(std::string_view v);
  pg_array& bytes(std::span<const std::byte> v);
  // Appends a bytea element of `length` bytes and returns them, to be
  // filled in by the caller before the array is sent (valid until the next
  // append).
  std::span<std::byte> bytes_slot(std::size_t length);

  std::size_t size() const { return count_; }
  // The oid of the array type (int8[] for element::int8, ...).
  unsigned array_oid() const;
  // The binary form: header, dimension, then each element's length and bytes.
  std::span<const char> encoded() const;

 private:
  // Appends an element's length and room for its bytes; returns the room.
  char* element_of(element type, std::size_t length);
  void element_of(element type, const void* data, std::size_t length);

  element type_;
  std::size_t count_ = 0;
  mutable std::vector<char> buffer_;  // header (dimension filled in by encoded()) + elements
};

}  // namespace instadump::replication

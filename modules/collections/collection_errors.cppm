// The helpers that word the persistent collections' error messages. The
// types themselves are declared in common/errors.h and exported by :errors.
module;
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "common/errors.h"
export module instadump:collection_errors;

export namespace instadump::detail {

// A key as an error message shows it: numbers and strings (the first 64
// bytes, quoted) are printed, other types only named as "the key".
template <class K>
std::string describe_key(const K& key) {
  if constexpr (std::is_same_v<K, bool>) {
    return key ? "true" : "false";
  } else if constexpr (std::is_arithmetic_v<K>) {
    return std::to_string(key);
  } else if constexpr (std::is_convertible_v<const K&, std::string_view>) {
    std::string_view s = key;
    constexpr std::size_t shown = 64;
    std::string out = "\"" + std::string(s.substr(0, shown)) + "\"";
    if (s.size() > shown) out += " (" + std::to_string(s.size()) + " bytes, the first " + std::to_string(shown) + " shown)";
    return out;
  } else {
    return "(not printable)";
  }
}

[[noreturn]] inline void throw_transient_consumed(const char* collection, const char* op) {
  throw transient_consumed(std::string(collection) + "::" + op +
                           "(): this transient was ended by persistent() (or moved from); "
                           "make a new one with transient() on the value");
}

[[noreturn]] inline void throw_index_out_of_range(const char* op, std::uint64_t index, std::uint64_t size) {
  throw index_out_of_range(std::string("pvector::") + op + "(): index " + std::to_string(index) +
                           " is out of range (the vector has " + std::to_string(size) + " elements)");
}

}  // namespace instadump::detail

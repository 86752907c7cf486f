// A map from names (std::string keys) that can be searched with a
// std::string_view, so that looking a name up never builds a string.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace instadump::storage {

struct name_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view name) const noexcept { return std::hash<std::string_view>{}(name); }
};

template <class V>
using name_map = std::unordered_map<std::string, V, name_hash, std::equal_to<>>;

}  // namespace instadump::storage

// Stands in for `import instadump;` in the golden and diagnostics inputs, so
// the tool can be run on them with plain flags (`-- -std=c++20 -I...`). The
// tool only needs the name instadump::ref<T> (and the names of the persistent
// collections).
#pragma once

namespace instadump {
template <class T>
class ref {
 public:
  constexpr ref() = default;
  constexpr ref(T v) : value(static_cast<T&&>(v)) {}
  T value{};
};
template <class K, class V>
class pmap {};
template <class T>
class pvector {};
template <class K>
class pset {};
}  // namespace instadump

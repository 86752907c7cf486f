// Stands in for `import instadump;` in the golden and diagnostics inputs, so
// the tool can be run on them with plain flags (`-- -std=c++20 -I...`). The
// tool only needs the name instadump::ref<T>.
#pragma once

namespace instadump {
template <class T>
class ref {
 public:
  constexpr ref() = default;
  constexpr ref(T v) : value(static_cast<T&&>(v)) {}
  T value{};
};
}  // namespace instadump

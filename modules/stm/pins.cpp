// Implementation of per-thread read pins (pins.cppm).
module;
#include <cstdint>
#include <vector>
module instadump;

namespace instadump::detail {

void thread_pins::push(std::uint32_t slot, version_base* v) {
  if (slot >= slots_.size()) slots_.resize(slot + 1);
  pair& p = slots_[slot];
  if (p.previous) p.previous->release();
  p.previous = p.newest;
  p.newest = v;
}

void thread_pins::clear() noexcept {
  for (pair& p : slots_) {
    if (p.newest) p.newest->release();
    if (p.previous) p.previous->release();
  }
  slots_.clear();
}

thread_pins& my_thread_pins() noexcept {
  thread_local thread_pins pins;
  return pins;
}

}  // namespace instadump::detail

namespace instadump {
void release_thread_pins() noexcept { detail::my_thread_pins().clear(); }
}  // namespace instadump

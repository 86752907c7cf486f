// Per-thread pins for reads outside a transaction.
//
// ref<T>::deref() outside a transaction returns a reference to the newest
// committed version. To keep that version alive after the call without a
// reference count on every read, each thread keeps, per ref, the last two
// versions it dereferenced; a read that finds the version it already pins
// costs one atomic load. The pins are dropped when the thread reads a newer
// version twice more, calls release_thread_pins(), or exits.
module;
#include <cstdint>
#include <vector>
export module instadump:pins;
import :version;

namespace instadump::detail {

class thread_pins {
 public:
  thread_pins() = default;
  thread_pins(const thread_pins&) = delete;
  thread_pins& operator=(const thread_pins&) = delete;
  ~thread_pins() { clear(); }

  // The version this thread pins as newest for ref slot `slot`, or null.
  inline version_base* newest(std::uint32_t slot) const noexcept {
    return slot < slots_.size() ? slots_[slot].newest : nullptr;
  }
  // Pins `v` (already held once for this table) as the newest for `slot`.
  void push(std::uint32_t slot, version_base* v);
  void clear() noexcept;

 private:
  struct pair {
    version_base* newest = nullptr;
    version_base* previous = nullptr;
  };
  std::vector<pair> slots_;
};

thread_pins& my_thread_pins() noexcept;

}  // namespace instadump::detail

export namespace instadump {

// Drops every version the calling thread keeps alive for references returned
// by deref() outside a transaction. Afterwards those references dangle.
void release_thread_pins() noexcept;

}  // namespace instadump

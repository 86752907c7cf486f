// Busy-waiting for waits that are usually very short: another thread's
// commit, or its walk down a version chain.
module;
#include <thread>
export module instadump:spin;

namespace instadump::detail {

// Tells the core that this is a spin loop (on x86 the pause instruction,
// which also stops a sibling hyperthread from being starved).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Round `round` (from 0) of such a wait: spins at first, then yields, in
// case the thread waited for has been descheduled.
inline void spin_pause(unsigned round) noexcept {
  if (round < 64) {
    cpu_relax();
  } else {
    std::this_thread::yield();
  }
}

}  // namespace instadump::detail

// The global commit clock and the registry of active read points.
//
// Every committing write transaction takes a new stamp from the clock; every
// transaction reads at the clock value it started with (its read point) and
// sees exactly the versions stamped at or before it: snapshot isolation.
//
// A running transaction announces its read point in a per-thread slot, so a
// committer that trims a ref's version chain knows the oldest read point that
// may still walk it (min_active_read_point). Announcing follows the
// "publish, then re-check the clock" protocol: with sequentially consistent
// operations on both sides, a committer either sees the announcement or the
// announcer sees the committer's newer clock value and announces that instead.
module;
#include <atomic>
#include <cstdint>
export module instadump:clock;

namespace instadump::detail {

inline constexpr std::uint64_t no_read_point = ~std::uint64_t{0};

// Current clock value: the stamp of the newest commit.
std::uint64_t clock_now() noexcept;

// Takes the stamp for a new commit (strictly greater than every earlier one).
std::uint64_t clock_tick() noexcept;

// Announces a read point for the calling thread and returns it. Nested calls
// on one thread must not happen (one transaction per thread at a time).
std::uint64_t announce_read_point() noexcept;

// Withdraws the calling thread's announcement.
void withdraw_read_point() noexcept;

// A lower bound of every read point that is announced now or will be later:
// versions older than the newest one at or before it are invisible to all.
std::uint64_t min_active_read_point() noexcept;

}  // namespace instadump::detail

// The global commit clock and the registry of read points.
//
// Every committing write transaction takes a new stamp from the clock; every
// transaction reads at a read point and sees exactly the versions stamped at
// or before it: snapshot isolation.
//
// Each thread owns a slot holding a *floor*: no read point the thread uses
// from now on is below it. Floors only rise, so a committer that trims a
// ref's version chain below the lowest floor (min_active_read_point) never
// cuts a version a reader may still walk to, even when it scanned the slots
// long ago and cached the result.
//
// The floor is the newest stamp the thread has seen (its own last commit, or
// the last clock value or stamp it read). A transaction starts at that value
// without touching the clock, which every other core's commits write: the
// start costs one atomic operation on the thread's own cache line. Such a
// read point may be older than the clock, so a reader that meets a ref whose
// newest version is newer must move its read point forward (see
// transaction::read): a transaction still sees every commit that finished
// before it started.
//
// A thread between transactions marks its slot idle. A committer whose trim
// is held back by an idle thread's old floor lifts it (the slot then holds no
// floor, like a free one); the owner notices (its next announcement fails to
// find its own idle word) and announces a clock value instead, re-checking
// the clock as a fresh slot does. So a thread that sleeps keeps no versions
// alive.
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

// Announces a read point for the calling thread and returns it: the newest
// stamp this thread has seen, which may be older than the clock. Nested
// calls on one thread must not happen (one transaction per thread at a
// time).
std::uint64_t announce_read_point() noexcept;

// Like announce_read_point, but the read point returned is at least the
// clock's value at the call.
std::uint64_t announce_current_read_point() noexcept;

// Moves the calling thread's announced read point forward to `rp`, which
// must be at least the one announced and either a clock value or the stamp
// of a version the thread has seen published.
void advance_read_point(std::uint64_t rp) noexcept;

// Withdraws the calling thread's announcement.
void withdraw_read_point() noexcept;

// A lower bound of every read point that is announced now or will be later:
// versions older than the newest one at or before it are invisible to all.
// Idle threads whose floor is below `wanted` have it lifted. Called by a
// thread that has withdrawn its own read point.
std::uint64_t min_active_read_point(std::uint64_t wanted) noexcept;

}  // namespace instadump::detail

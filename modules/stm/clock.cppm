// The global commit clock and the registry of read points.
//
// Every committing write transaction takes a new stamp from the clock; every
// transaction reads at a read point and sees exactly the versions stamped at
// or before it: snapshot isolation.
//
// Each thread owns a slot that announces its read point, so that a committer
// trimming a ref's chain keeps, for each announced point, the newest version
// at or before it, and otherwise only the newest version (chain.cpp). That
// is safe only if every point a thread reads at is seen by every committer
// whose stamp is above it. A thread announces one of:
//
//  - a clock value, stored and then re-checked against the clock, both
//    sequentially consistent: a committer that ticks after the re-check sees
//    the store, and one that ticked before has a stamp at or below the point
//    (which then needs only the newest version);
//  - the point it read at last, or its own last commit stamp: the newest
//    stamp it has seen, kept in its slot as an *idle* word between
//    transactions, so the next transaction starts without reading the
//    clock, which every other core's commits write (the start costs one
//    atomic operation on the thread's own cache line). A commit stores a
//    *committing* word before it ticks (holding the newest stamp it has
//    seen, a bound of the one it takes) and its stamp as the idle word right
//    after; a committer stamped above that finds the word still committing
//    keeps the version it replaces if the bound shows the owner will read
//    it, else sets the slot's `spoiled` flag, which sends the owner's next
//    start to the clock. A committer may also lift an idle word whose point would
//    keep a version older than the one it replaces (the owner then starts at
//    the clock), so that a sleeping thread keeps at most that one version
//    of a ref alive;
//  - while a transaction moves its point forward to the clock, the clock
//    value, announced as in the first case beside the old point, which
//    stays until the move is confirmed: what it has read stays alive if the
//    move fails.
//
// Such a read point may be older than the clock, so a reader that meets a
// ref whose newest version is newer moves its point forward (see
// transaction::read): a transaction still sees every commit that finished
// before it started.
//
// A committer that cuts versions out of the middle of a chain must also know
// that no reader still walks through them (readers walk the chain
// newest-first down to their version): a reader marks its walks in its slot,
// and wait_for_walkers waits out the walks under way.
module;
#include <atomic>
#include <cstdint>
#include <vector>
export module instadump:clock;

namespace instadump::detail {

inline constexpr std::uint64_t no_read_point = ~std::uint64_t{0};

// Current clock value: the stamp of the newest commit.
std::uint64_t clock_now() noexcept;

// Takes the stamp for a new commit (strictly greater than every earlier one),
// which becomes the calling thread's next read point. REQUIRES:
// withdraw_read_point_to_commit() since the thread's last announcement.
std::uint64_t clock_tick() noexcept;

// Announces a read point for the calling thread and returns it: the newest
// stamp this thread has seen, which may be older than the clock. Nested
// calls on one thread must not happen (one transaction per thread at a
// time).
std::uint64_t announce_read_point() noexcept;

// Like announce_read_point, but the read point returned is a clock value at
// least as new as the clock at the call.
std::uint64_t announce_current_read_point() noexcept;

// Moving the calling thread's announced read point forward to the clock, in
// two steps: begin_read_point_move announces a clock value beside the
// current point (both are then kept) and returns it; the caller checks that
// what it has read is the same there, and then either confirms the move with
// finish_read_point_move or gives up (withdraw_read_point drops both).
std::uint64_t begin_read_point_move() noexcept;
void finish_read_point_move(std::uint64_t rp) noexcept;

// Withdraws the calling thread's announcement.
void withdraw_read_point() noexcept;

// Withdraws it before clock_tick, for a commit. Not with a move under way.
void withdraw_read_point_to_commit() noexcept;

// Appends to `points` the read points below `stamp` at which other threads
// read or may read next (unsorted, perhaps repeated), lifting idle slots
// whose point is below `replaced`. Called by a committer that took `stamp`,
// for a ref whose commit lock it holds and whose newest version before it
// was stamped `replaced`. May throw std::bad_alloc (`points` then holds only
// some of them).
void collect_read_points(std::uint64_t stamp, std::uint64_t replaced, std::vector<std::uint64_t>& points);

// Brackets a walk down a version chain by a thread that has announced a read
// point (see chain.cpp). No waiting inside.
void begin_walk() noexcept;
void end_walk() noexcept;

// Returns once every walk whose begin_walk happens before the call has
// ended (end_walk then happens before the return).
void wait_for_walkers() noexcept;

}  // namespace instadump::detail

// The global commit clock and the registry of read points.
//
// Every committing write transaction takes a new stamp from the clock; every
// transaction reads at a read point and sees exactly the versions stamped at
// or before it: snapshot isolation.
//
// Each thread owns a slot that announces the read point it reads at, so that
// a committer trimming a ref's chain keeps, for each announced point, the
// newest version at or before it, and nothing else but the newest version
// (ref_core::trim). That is only safe if every point a thread reads at is
// seen by every committer whose stamp is above it. A point is therefore
// announced in one of three ways, each of which guarantees that:
//
//  - a clock value, stored and then re-checked against the clock
//    (sequentially consistent on both sides): a committer that ticks after
//    the re-check sees the store, and one that ticked before has a stamp at
//    or below the point, so the point needs only its newest version;
//  - the point the thread used last, or its own last commit stamp (the
//    newest stamp it has seen), from an *idle* slot: between transactions the
//    slot holds the newest stamp the thread had seen before its last step
//    (idle_word). A committer above that stamp that finds the slot idle
//    lifts it (the slot then holds no point, like a free one), and the owner,
//    whose next announcement then fails to find its own idle word, announces
//    a clock value instead. A committer that finds the slot active sees the
//    point itself. (An idle word is written before the owner's commit tick,
//    so a committer with a later stamp cannot see an older word.)
//  - while a transaction moves its point forward to the clock, the new point
//    sits beside the old one (a second word) until the move is confirmed, so
//    that the versions it has read so far stay alive if it fails.
//
// So an idle thread keeps no version alive for itself, and a transaction
// starts without reading the clock, which every other core's commits write:
// the start costs one atomic operation on the thread's own cache line. Its
// point may be older than the clock, so a reader that meets a ref whose
// newest version is newer moves its point forward (see transaction::read):
// a transaction still sees every commit that finished before it started.
//
// A committer that cuts versions out of the middle of a chain must also know
// that no reader is still walking through them (readers walk the chain
// newest-first to their version). A reader marks its walks in its slot;
// wait_for_walkers waits out the walks that were under way when a cut was
// made.
module;
#include <atomic>
#include <cstdint>
#include <vector>
export module instadump:clock;

namespace instadump::detail {

inline constexpr std::uint64_t no_read_point = ~std::uint64_t{0};

// Current clock value: the stamp of the newest commit.
std::uint64_t clock_now() noexcept;

// Takes the stamp for a new commit (strictly greater than every earlier one).
// REQUIRES: the calling thread has withdrawn its read point (the idle word
// must precede the tick; see above).
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

// Appends to `points` the read points below `stamp` at which other threads
// read or may still read (unsorted, perhaps repeated); lifts idle slots
// whose point is below it. Called by a committer, after taking `stamp`, for
// a ref whose commit lock it holds. May throw std::bad_alloc (`points` then
// holds only some of them).
void collect_read_points(std::uint64_t stamp, std::vector<std::uint64_t>& points);

// Brackets a walk down a version chain by a thread that has announced a read
// point (see ref_core::walk_to). No waiting inside.
void begin_walk() noexcept;
void end_walk() noexcept;

// Returns once every walk that may have started before the call has ended:
// versions unlinked from every chain before the call are then unreachable.
void wait_for_walkers() noexcept;

}  // namespace instadump::detail

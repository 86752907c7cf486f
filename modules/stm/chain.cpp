// Version chains (ref_core.cppm): how a reader walks a ref's chain to the
// version at its read point, how a commit trims the chain to what some
// reader can still see, and why the two never meet on a freed version.
//
// What a commit keeps. Having published version N (stamp s), the committer
// collects the read points below s that other threads announce
// (collect_read_points) and keeps N and, for each point p, the newest
// version at or before p -- call it vis(p). Every other version is cut: the
// ones below the oldest version kept (the tail) are freed at once, runs
// between kept ones once no walk can reach them (below). So a ref holds at
// most its newest version plus one per announced read point, however many
// commits happen: a reader that stays open costs one version per ref.
//
// Why a reader always finds its version. A thread reads at point p only once
// it has announced p so that every committer with a stamp above p either
// sees p in its slot or finds the slot idle below its stamp and lifts it,
// after which the thread announces a clock value at or above that stamp
// instead of p (clock.cppm lists the ways to announce and why each does
// that). So, for a reader at p and any ref Y it reads, now or later:
//  - a commit of Y stamped at or below p publishes Y's vis(p) as it stands
//    then, as the newest version, which it keeps (a later such commit
//    publishes the next one);
//  - a commit of Y stamped above p sees p and keeps vis(p).
// A reader first waits out a commit in progress that may publish at or
// before p (the lock protocol in ref_core.cppm), so vis(p) stays put once it
// looks. The committer needs nothing itself: its read point is withdrawn,
// and its next one is at least s, whose version is N.
//
// Why a walk never reaches a freed version. version_at looks at nothing but
// the head when the ref's latest stamp is at or before p (that stamp is
// published before the head, so the head loaded is vis(p), which is kept).
// Otherwise it walks from the head down to vis(p), marked with begin_walk /
// end_walk, past versions that commits may cut meanwhile:
//  - the tail lies below every kept version, so below vis(p): no walk at p
//    goes there;
//  - a run cut from the middle is first unlinked (the kept version above it
//    now points past it); then the committer fences and waits for the walks
//    under way (wait_for_walkers): a walk marked before the fence is waited
//    for, one marked after it loads the chain without the run. Until it is
//    freed, the run still links to the kept version below it, so a walk
//    inside it goes on to versions that stay alive as long as it walks.
// A walk is a few loads and never waits, so neither does a committer long.
// hold_newest takes its hold inside a walk for the same reason: the newest
// version it loaded may be replaced and cut before the hold.
//
// Holds. pinned<T> handles and the per-thread pin tables hold versions by
// counts of their own and never walk from them: a version cut while held
// lives until they let go. Once a version is cut and no walk reaches it, no
// one can take a new hold on it, which lets release_cut() skip the atomic
// decrement when its hold is the last.
module;
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <new>
#include <utility>
#include <vector>
module instadump;

namespace instadump::detail {

// The slot's mark lets a committer wait for this walk to end; walkers_ tells
// it whether there is any walk of this chain to wait for. Both are set
// before the walk loads anything, through walkers_'s read-modify-write,
// which the committer's own (after unlinking) is ordered with: see trim.
class ref_core::walk_scope {
 public:
  explicit walk_scope(const ref_core& r) noexcept : r_(r) {
    begin_walk();
    r_.walkers_.fetch_add(1, std::memory_order_seq_cst);
  }
  ~walk_scope() {
    r_.walkers_.fetch_sub(1, std::memory_order_release);
    end_walk();
  }
  walk_scope(const walk_scope&) = delete;
  walk_scope& operator=(const walk_scope&) = delete;

 private:
  const ref_core& r_;
};

namespace {

// Lets go of the versions from `v` down to (not including) `below`.
void release_run(version_base* v, const version_base* below) noexcept {
  while (v != below) {
    version_base* older = v->older();
    v->release_cut();
    v = older;
  }
}

}  // namespace

version_base* ref_core::walk_to(std::uint64_t rp) const {
  walk_scope walking(*this);
  version_base* v = head_.load(std::memory_order_acquire);
  while (v->stamp() > rp) v = v->older();
  return v;
}

version_base* ref_core::hold_newest(std::uint64_t rp) const {
  if (may_publish_at_or_before(rp)) [[unlikely]] wait_for_commit_at_or_before(rp);
  version_base* v = head();
  if (latest_stamp_.load(std::memory_order_acquire) <= rp) [[likely]] {
    v->hold();  // vis(rp): kept while rp is announced
    return v;
  }
  walk_scope walking(*this);
  v = head_.load(std::memory_order_acquire);
  v->hold();
  return v;
}

void ref_core::publish(version_base* v, trimmer& t) {
  v->set_older(head());
  latest_stamp_.store(v->stamp(), std::memory_order_release);  // before the head: see version_at
  head_.store(v, std::memory_order_release);
  std::uint32_t length = chain_length_.load(std::memory_order_relaxed) + 1;
  if (length > rescan_length_) length = trim(v, length, t);
  chain_length_.store(length, std::memory_order_relaxed);
}

std::uint32_t ref_core::trim(version_base* newest, std::uint32_t length, trimmer& t) noexcept {
  std::vector<std::uint64_t>& points = t.points_;
  points.clear();
  try {
    collect_read_points(newest->stamp(), newest->older()->stamp(), points);
  } catch (const std::bad_alloc&) {
    return length;  // some points may be missing: keep everything
  }
  std::sort(points.begin(), points.end(), std::greater<>());

  // Down the chain and the points together, newest and highest first.
  version_base* kept = newest;  // the oldest version kept so far
  std::uint32_t kept_count = 1;
  std::uint32_t passed = 0;       // versions below `kept` not kept (yet)
  std::size_t next = 0;           // the highest point whose version is not found yet
  const std::size_t first_run = t.runs_.size();
  for (version_base* v = newest->older(); v && next < points.size(); v = v->older()) {
    if (v->stamp() > points[next]) {
      ++passed;
      continue;
    }
    // v is vis(points[next]), and vis of every lower point down to its stamp.
    if (passed != 0) {
      if (t.add_run(kept->older(), v)) {
        kept->set_older(v);
      } else {
        kept_count += passed;  // no memory to note the run: it stays
      }
      passed = 0;
    }
    kept = v;
    ++kept_count;
    while (next < points.size() && v->stamp() <= points[next]) ++next;
  }
  if (t.runs_.size() != first_run && walkers_.fetch_add(0, std::memory_order_seq_cst) == 0) {
    // No walk of this chain was under way when the runs were unlinked (a
    // walk that starts later finds them unlinked): free them now.
    for (std::size_t i = first_run; i < t.runs_.size(); ++i) release_run(t.runs_[i].first, t.runs_[i].second);
    t.runs_.resize(first_run);
  }
  // Every point's version is found, else the chain ran out (which the
  // argument above rules out): then what is below `kept` stays.
  if (next < points.size()) return kept_count + passed;
  version_base* tail = kept->older();
  kept->set_older(nullptr);
  release_run(tail, nullptr);
  return kept_count;
}

bool trimmer::add_run(version_base* first, const version_base* below) noexcept {
  try {
    runs_.emplace_back(first, below);
    return true;
  } catch (const std::bad_alloc&) {
    return false;
  }
}

void trimmer::release_cut() noexcept {
  wait_for_walkers();
  for (const auto& [first, below] : runs_) release_run(first, below);
  runs_.clear();
}

}  // namespace instadump::detail

// Faults injected for real into the system calls under the store, through
// libfiu's POSIX preload library (fiu_posix_preload.so, which wraps pwrite,
// fdatasync, mmap, open, ... and fails them when their failure point, e.g.
// "posix/io/rw/pwrite", is enabled). The child program links libfiu and
// controls the points itself, so a fault covers exactly the step under test.
#pragma once

#include <atomic>
#include <string>
#include <vector>

namespace faults {

// The failure points of the calls a save can make (LMDB writes pages with
// pwrite/writev and flushes with fdatasync; the journal with pwritev and
// fdatasync; map growth maps again; opening opens, maps and reads).
inline const std::vector<std::string>& write_points() {
  static const std::vector<std::string> points{
      "posix/io/rw/pwrite", "posix/io/rw/writev", "posix/io/rw/pwritev", "posix/io/rw/write",
      "posix/io/sync/fdatasync", "posix/io/sync/fsync", "posix/mm/mmap", "posix/mm/msync",
      "posix/io/rw/ftruncate", "posix/io/oc/open"};
  return points;
}

// The points of the calls an open reads with.
inline const std::vector<std::string>& read_points() {
  static const std::vector<std::string> points{"posix/io/rw/pread", "posix/io/rw/read", "posix/mm/mmap",
                                               "posix/io/oc/open"};
  return points;
}

// How an armed point fails.
struct fault_plan {
  std::string point;  // e.g. "posix/io/rw/pwrite"
  int error = 0;      // the errno the failed call sets
  int nth = 1;        // the first call of `point` that fails, counted from arming
  bool once = true;   // only that call fails; otherwise every call from it on
};

// Arms `plan.point` and, to count them, the calls of every point in `points`
// (none of those fails). Not reentrant: one plan at a time.
void arm(const fault_plan& plan, const std::vector<std::string>& points);
// Disarms every point arm() armed.
void disarm();
// Faults injected since arm().
int injected();
// Calls of `point` seen since arm() (failed ones included).
int calls(const std::string& point);

// Whether the fault-injection library is active in this process (the child
// runs with LD_PRELOAD=fiu_posix_preload.so).
bool preload_active();

}  // namespace faults

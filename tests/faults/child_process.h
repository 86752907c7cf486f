// Runs the fault tests' child program (fault_child) to completion in a fresh
// process -- optionally under libfiu's POSIX preload library -- and collects
// its output lines, how it ended, and whether it had to be killed because it
// hung. Plain C++ (no test macros), so a forked helper may use it too.
#pragma once

#include <string>
#include <vector>

namespace faults {

struct child_outcome {
  std::vector<std::string> lines;  // its stdout
  int exit_code = -1;              // when it exited
  int signal = 0;                  // the signal that ended it, if one did
  bool hung = false;               // still running after the deadline: killed

  bool exited(int code) const { return signal == 0 && !hung && exit_code == code; }
  // Every line, for a failure message.
  std::string transcript() const;
  // The lines that start with `prefix`, without it.
  std::vector<std::string> after(const std::string& prefix) const;
  // The largest number after "acked " (0 when none).
  long last_acked() const;
};

// Where the fault tests' tools are (set by the build).
std::string child_path();
std::string preload_path();

// Runs child_path() with `args`, with LD_PRELOAD=preload_path() when
// `with_faults`, and waits for it (up to `deadline_s` seconds, then kills it).
child_outcome run_child(const std::vector<std::string>& args, bool with_faults, int deadline_s = 120);

}  // namespace faults

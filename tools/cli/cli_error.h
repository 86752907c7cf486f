// The errors of the `instadump` command-line tool: one line for stderr,
// and the exit status it stands for.
#pragma once

#include <string>

#include "common/errors.h"

namespace instadump::cli {

// Exit statuses (docs/CLI.md): 0 all is well; 1 the command ran and found
// problems (verify, or a value show/export could not decode); 2 the command
// could not run (usage, no such directory, not a store, unknown snapshot,
// newer format, I/O).
inline constexpr int exit_ok = 0;
inline constexpr int exit_problems = 1;
inline constexpr int exit_failed = 2;

// A command cannot run: the message is the whole line printed on stderr
// (after "instadump: "), naming what is wrong and what to do.
class cli_error : public error {
 public:
  using error::error;
};

}  // namespace instadump::cli

// A test's own snapshot directory, with no store open before or after it
// (whatever the test throws).
#pragma once

#include "temp_dir.h"

import instadump;

namespace test_util {

struct fresh_session {
  temp_dir dir;
  fresh_session() { instadump::shutdown(); }
  ~fresh_session() { instadump::shutdown(); }
  fresh_session(const fresh_session&) = delete;
  fresh_session& operator=(const fresh_session&) = delete;
};

}  // namespace test_util

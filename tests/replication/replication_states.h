// The states the replication tests save, registered by hand (test_state.h,
// as the persistence tests do), and the PostgreSQL server the test cases of
// one binary share (each case uses a store name of its own).
#pragma once

#include <string>

#include "pg_server.h"
#include "test_state.h"

import instadump;

namespace replication_test {

inline instadump::ref<long> counter{0};
inline instadump::ref<std::string> text{""};
inline instadump::state_registration<long> counter_reg(counter, "replication::counter", test_state::int64_schema,
                                                       test_state::long_codec);
inline instadump::state_registration<std::string> text_reg(text, "replication::text", test_state::text_schema,
                                                           test_state::text_codec);

// The text of generation g: its length varies, so values move between blobs.
inline std::string text_for(long g) { return std::string(static_cast<std::size_t>(50 + (g * 37) % 900), 'a' + g % 26); }

// Sets both states to generation g in one transaction.
inline void set_generation(long g) {
  instadump::dosync([&] {
    counter.set(g);
    text.set(text_for(g));
  });
}

// The server of this test binary, started on first use, stopped at exit.
inline pg_test::pg_server& server() {
  static pg_test::pg_server pg;
  return pg;
}

inline instadump::replication::options replicate(const std::string& store, instadump::replication::send_mode mode) {
  instadump::replication::options o;
  o.url = server().url();
  o.store = store;
  o.mode = mode;
  o.min_backoff = std::chrono::milliseconds(10);
  o.max_backoff = std::chrono::milliseconds(200);
  return o;
}

}  // namespace replication_test

// The advice the store's error messages end with, in one place, so that each
// names the public calls that do what it advises (and a test can check them:
// tests/persist/error_advice_test.cpp).
//
// The store is also used without the instadump module (tools, its own
// tests), but the messages reach users through instadump::setup(),
// save_all() and reload_all(), so they name those.
#pragma once

namespace instadump::storage::advice {

// For a damaged snapshot record, manifest or value.
inline constexpr char load_older_snapshot[] =
    "load an older snapshot: set fall_back_to_older_snapshots in setup_options (or reload_options), "
    "or pass an id from instadump::snapshots() to reload_all(id) or setup_options::load_snapshot";

// For a store whose writes can no longer be trusted (a flush failed).
inline constexpr char reopen_store[] =
    "reopen the store (instadump::shutdown(), then instadump::setup() on the same directory)";

// For a snapshot id that is not stored.
inline constexpr char stored_snapshots[] = "instadump::snapshots() lists the stored ones";

// For a directory another writer has open.
inline constexpr char one_writer[] =
    "only one writer is allowed: end the other one (instadump::shutdown() there, or stop that process), "
    "or use another directory";

}  // namespace instadump::storage::advice

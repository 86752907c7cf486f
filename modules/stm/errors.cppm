// Re-exports the library's exception types (declared in common/errors.h so
// that non-module code throws the same types) from the instadump module:
// every class in that header, so that users of `import instadump` can catch
// each by name. tests/stm/exported_errors.cmake checks that none is missing.
module;
#include "common/errors.h"
export module instadump:errors;

export namespace instadump {
using instadump::error;
using instadump::invalid_option;
// STM
using instadump::illegal_transaction_state;
using instadump::no_transaction;
using instadump::retry_limit_exceeded;
using instadump::validation_failed;
// Persistent collections
using instadump::index_out_of_range;
using instadump::key_not_found;
using instadump::transient_consumed;
// Storage
using instadump::corrupt_data;
using instadump::truncated_store;
using instadump::limit_exceeded;
using instadump::load_failed;
using instadump::locked_by_other_process;
using instadump::open_failed;
using instadump::read_only_session;
using instadump::save_failed;
using instadump::storage_error;
// Replication
using instadump::replication_error;
using instadump::lease_lost;
}  // namespace instadump

// Re-exports the library's exception types (declared in common/errors.h so
// that non-module code throws the same types) from the instadump module.
module;
#include "common/errors.h"
export module instadump:errors;

export namespace instadump {
using instadump::corrupt_data;
using instadump::error;
using instadump::illegal_transaction_state;
using instadump::load_failed;
using instadump::locked_by_other_process;
using instadump::no_transaction;
using instadump::open_failed;
using instadump::retry_limit_exceeded;
using instadump::save_failed;
using instadump::storage_error;
using instadump::truncated_store;
using instadump::validation_failed;
}  // namespace instadump

// Every exception type the library throws can be named, thrown and caught by
// code that only imports the module (no header included), and sits where its
// documentation says in the hierarchy under instadump::error.
// exported_errors.cmake checks that this list is all of common/errors.h.
#include <catch2/catch.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

import instadump;

namespace {

// A T with the message "what went wrong" (retry_limit_exceeded also takes
// the number of attempts, limit_exceeded the limit and the measured size).
template <class T>
T make_error() {
  if constexpr (std::is_constructible_v<T, const std::string&>) {
    return T("what went wrong");
  } else if constexpr (std::is_constructible_v<T, const std::string&, std::uint64_t, std::uint64_t>) {
    return T("what went wrong", 64, 100);
  } else {
    return T("what went wrong", 3);
  }
}

// Throws T and returns whether `catch (const Base&)` caught it with its text.
template <class T, class Base>
bool caught_as() {
  try {
    throw make_error<T>();
  } catch (const Base& e) {
    return std::string(e.what()) == "what went wrong";
  } catch (...) {
    return false;
  }
}

}  // namespace

TEMPLATE_TEST_CASE("every error type is exported by the module and is an instadump::error", "[errors]",
                   instadump::error, instadump::invalid_option, instadump::no_transaction,
                   instadump::validation_failed, instadump::retry_limit_exceeded,
                   instadump::illegal_transaction_state, instadump::key_not_found,
                   instadump::index_out_of_range, instadump::transient_consumed, instadump::storage_error,
                   instadump::open_failed, instadump::locked_by_other_process, instadump::corrupt_data,
                   instadump::truncated_store, instadump::save_failed, instadump::limit_exceeded,
                   instadump::load_failed, instadump::read_only_session, instadump::replication_error,
                   instadump::lease_lost) {
  CHECK(caught_as<TestType, TestType>());
  CHECK(caught_as<TestType, instadump::error>());
  CHECK(caught_as<TestType, std::runtime_error>());
}

TEST_CASE("the storage errors share storage_error, and a store locked elsewhere is an open failure", "[errors]") {
  CHECK(caught_as<instadump::open_failed, instadump::storage_error>());
  CHECK(caught_as<instadump::locked_by_other_process, instadump::open_failed>());
  CHECK(caught_as<instadump::corrupt_data, instadump::storage_error>());
  CHECK(caught_as<instadump::save_failed, instadump::storage_error>());
  CHECK(caught_as<instadump::limit_exceeded, instadump::save_failed>());
  CHECK(caught_as<instadump::truncated_store, instadump::corrupt_data>());
  CHECK(caught_as<instadump::load_failed, instadump::storage_error>());
  // The STM's and the collections' errors are not storage errors.
  CHECK_FALSE(caught_as<instadump::no_transaction, instadump::storage_error>());
  CHECK_FALSE(caught_as<instadump::key_not_found, instadump::storage_error>());
  // A save asked of a read-only session is a misuse, not a failed save to retry.
  CHECK_FALSE(caught_as<instadump::read_only_session, instadump::save_failed>());
}

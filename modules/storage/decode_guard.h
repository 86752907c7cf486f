// How the decoders of stored bytes report failure: whatever a decode throws
// -- Cap'n Proto's exceptions for malformed messages, or any other -- becomes
// corrupt_data naming where the bytes came from, what they were meant to be,
// and what to do. (Out of memory stays std::bad_alloc.)
//
// Internal to instadump_storage.
#pragma once

#include "instadump/capnp_compat.h"  // before any Cap'n Proto header

#include <kj/exception.h>

#include <exception>
#include <new>
#include <string>

#include "common/errors.h"

namespace instadump::storage {

// Runs `decode` and returns what it returns; throws corrupt_data reading
// "instadump: <where>: the stored <what> does not decode (<why>); <advice>"
// when it fails other than with corrupt_data (passed on as it is).
template <typename F>
auto decoding(const std::string& where, const char* what, const std::string& advice, F&& decode) -> decltype(decode()) {
  try {
    return decode();
  } catch (const corrupt_data&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const kj::Exception& e) {
    throw corrupt_data("instadump: " + where + ": the stored " + what + " does not decode (" +
                       std::string(e.getDescription().cStr()) + "); " + advice);
  } catch (const std::exception& e) {
    throw corrupt_data("instadump: " + where + ": the stored " + what + " does not decode (" + e.what() + "); " +
                       advice);
  }
}

}  // namespace instadump::storage

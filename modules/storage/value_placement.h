// Placing the values of a new snapshot (the writer's step after key ids):
// where each value's bytes are stored. New values are written into blobs
// that LMDB reserves in the write transaction, straight from their fill
// functions -- small ones side by side in one blob, a large one in a blob of
// its own (layout_rules.h) -- and kept values are found where an earlier
// snapshot stored them.
//
// Internal to instadump_storage.
#pragma once

#include <lmdb.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "common/errors.h"
#include "storage/record_codec.h"
#include "storage/record_io.h"
#include "storage/snapshot_types.h"
#include "storage/writer_state.h"

namespace instadump::storage {

// Thrown (nothing written) when a value filled in place needs more room; the
// writer makes the room and writes again.
struct room_needed {
  std::size_t index;  // in delta.put
  std::size_t bytes;
};

// Calls v.fill_in_place on `space`, the room of put[index] (through an
// aligned copy when LMDB's space is not 8-byte aligned); returns the bytes it
// used. Throws room_needed when it needs more room, save_failed when it used
// a size that is not whole words.
std::size_t fill_in_place(const new_value& v, std::span<std::byte> space, std::size_t index);

// Writes new value `v` (put[index]) into `space`: by its fill, by copying
// its bytes, or by its fill_in_place, after which `space` is cut to the bytes
// it used. Throws room_needed when fill_in_place needs more room,
// limit_exceeded (as it is) when the value is beyond a ceiling, and
// save_failed, with the exception nested, when filling throws anything else.
// (Inline: a save calls it once per value.)
inline void fill_new_value(const new_value& v, std::size_t index, std::span<std::byte>& space,
                           const std::filesystem::path& dir) {
  try {
    if (v.fill_in_place) {
      space = space.first(fill_in_place(v, space, index));
    } else if (v.fill) {
      v.fill(space);
    } else {
      std::memcpy(space.data(), v.bytes.data(), space.size());
    }
  } catch (const room_needed&) {
    throw;
  } catch (const limit_exceeded&) {
    throw;  // a value beyond a ceiling of the format: its message says which
  } catch (...) {
    std::throw_with_nested(save_failed("instadump: filling value \"" + std::string(v.key) + "\" for a snapshot in " +
                                       dir.string() + " threw; nothing was written"));
  }
}

// Reserves blobs for the new values of `put` in `txn` (ids from `next_blob`
// on) and fills them in; stored[i] gets where put[i] is stored, its checksum,
// schema, framing and chunk roots (kept values are left alone). rooms[i], when present
// and not 0, is the room to reserve for put[i] if it is filled in place
// (else its size_bytes). Returns the next free blob id. Throws room_needed,
// save_failed (a fill threw, nested in it; or a value filled in place used
// a size that is not whole words) and lmdb_failure.
std::uint64_t place_new_values(MDB_txn* txn, MDB_dbi blobs, const std::vector<std::variant<new_value, kept_value>>& put,
                               const std::vector<std::size_t>& rooms, std::uint64_t next_blob,
                               std::vector<stored_value>& stored, const std::filesystem::path& dir);

// Where `kept` is stored: `s` (its key_id set) gets the place, checksum,
// schema, framing and chunk roots of the value it refers to. Throws save_failed when no
// kept snapshot has a value there or, when the records cannot say (w is not
// intact), the blob does not hold its bytes.
void place_kept_value(writer_state& w, MDB_txn* txn, const store_dbis& dbis, const kept_value& kept, stored_value& s,
                      const std::filesystem::path& dir);

}  // namespace instadump::storage

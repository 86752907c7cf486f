// Placing a new snapshot's values into blobs, and finding kept ones (see
// value_placement.h).
#include "storage/value_placement.h"

#include <cstring>
#include <exception>
#include <span>
#include <string>

#include "common/errors.h"
#include "storage/checksum.h"
#include "storage/layout_rules.h"
#include "storage/lmdb_env.h"

namespace instadump::storage {
namespace {

using lmdb::check;
using lmdb::id_key;

// Reserves `bytes` for blob `blob` in `txn`; returns where to write them.
std::byte* reserve_blob(MDB_txn* txn, MDB_dbi blobs, std::uint64_t blob, std::uint64_t bytes) {
  id_key key(blob);
  MDB_val k = key.val();
  MDB_val data{bytes, nullptr};
  check(mdb_put(txn, blobs, &k, &data, MDB_RESERVE | MDB_NOOVERWRITE), "mdb_put (blob)");
  return static_cast<std::byte*>(data.mv_data);
}

// Fills put[i] into `space` (its room, at `offset` of `blob`) and notes in
// `s` where it is stored.
void fill_value(const new_value& v, std::size_t i, std::span<std::byte> space, std::uint64_t blob,
                std::uint64_t offset, stored_value& s, const std::filesystem::path& dir) {
  fill_new_value(v, i, space, dir);
  s.ref = space.empty() ? value_ref{} : value_ref{blob, offset, space.size()};
  s.checksum = checksum_of(space);
  s.schema = v.schema;
  s.framed = v.framed;
  if (!v.chunk_roots.empty()) {
    if (space.empty()) {
      throw save_failed("instadump: value \"" + std::string(v.key) + "\" for a snapshot in " + dir.string() +
                        " refers to chunks but was written with no bytes; nothing was written");
    }
    s.chunk_roots = chunk_root_list(v.chunk_roots);
  }
}

}  // namespace

std::size_t fill_in_place(const new_value& v, std::span<std::byte> space, std::size_t index) {
  std::size_t used;
  if (reinterpret_cast<std::uintptr_t>(space.data()) % alignof(std::uint64_t) == 0) {
    used = v.fill_in_place(space);
  } else {
    std::vector<std::uint64_t> aligned(space.size() / sizeof(std::uint64_t));
    std::span<std::byte> tmp(reinterpret_cast<std::byte*>(aligned.data()), space.size());
    used = v.fill_in_place(tmp);
    if (used <= space.size()) std::memcpy(space.data(), tmp.data(), used);
  }
  if (used > space.size()) throw room_needed{index, (used + 7) / 8 * 8};
  std::memset(space.data() + used, 0, space.size() - used);  // no stale bytes on disk
  if (used % 8 != 0) {
    throw save_failed("instadump: value \"" + std::string(v.key) + "\" was written with " + std::to_string(used) +
                      " bytes, not a multiple of 8 (whole Cap'n Proto words); nothing was written");
  }
  return used;
}

std::uint64_t place_new_values(MDB_txn* txn, MDB_dbi blobs, const std::vector<std::variant<new_value, kept_value>>& put,
                               const std::vector<std::size_t>& rooms, std::uint64_t next_blob,
                               std::vector<stored_value>& stored, const std::filesystem::path& dir) {
  auto room_of = [&](std::size_t i, const new_value& v) -> std::uint64_t {
    return v.fill_in_place && i < rooms.size() && rooms[i] != 0 ? rooms[i] : v.size_bytes;
  };
  // Each blob is filled right after LMDB reserves it: a later put may move it.
  std::uint64_t pack_bytes = 0;
  for (std::size_t i = 0; i < put.size(); ++i) {
    const auto* v = std::get_if<new_value>(&put[i]);
    if (!v) continue;
    const std::uint64_t room = room_of(i, *v);
    if (room < kPackedValueBytes) {
      pack_bytes += room;
    } else {
      const std::uint64_t blob = next_blob++;
      fill_value(*v, i, std::span(reserve_blob(txn, blobs, blob, room), room), blob, 0, stored[i], dir);
    }
  }
  // (Empty values are filled too: they have no bytes, but a checksum.)
  const std::uint64_t pack = pack_bytes != 0 ? next_blob++ : 0;
  std::byte* pack_space = pack != 0 ? reserve_blob(txn, blobs, pack, pack_bytes) : nullptr;
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < put.size(); ++i) {
    const auto* v = std::get_if<new_value>(&put[i]);
    const std::uint64_t room = v ? room_of(i, *v) : kPackedValueBytes;
    if (room >= kPackedValueBytes) continue;  // a kept value, or filled above
    fill_value(*v, i, std::span(pack_space + offset, room), pack, offset, stored[i], dir);
    offset += room;
  }
  return next_blob;
}

void place_kept_value(writer_state& w, MDB_txn* txn, const store_dbis& dbis, const kept_value& kept, stored_value& s,
                      const std::filesystem::path& dir) {
  s.schema = kept.schema;
  const stored_value* here = nullptr;
  if (kept.blob_id == 0) {  // an empty value: no bytes anywhere
    s.checksum = checksum_of({});
    s.framed = kept.framed;
  } else if (w.intact && (here = w.find_kept(txn, dbis, dir, s.key_id, kept))) {
    s.ref = here->ref;
    s.checksum = here->checksum;
    s.framed = here->framed;
    s.chunk_roots = here->chunk_roots;
  } else if (!w.intact) {
    // The records cannot say; the bytes must at least be there.
    id_key key(kept.blob_id);
    MDB_val k = key.val(), blob;
    const int rc = mdb_get(txn, dbis.blobs, &k, &blob);
    if (rc != 0 || kept.offset > blob.mv_size || blob.mv_size - kept.offset < kept.size_bytes) {
      throw save_failed("instadump: value \"" + std::string(kept.key) + "\" refers to " +
                        std::to_string(kept.size_bytes) + " bytes at offset " + std::to_string(kept.offset) +
                        " of blob " + std::to_string(kept.blob_id) + ", which " + dir.string() +
                        " does not hold; save the value's bytes instead");
    }
    s.ref = value_ref{kept.blob_id, kept.offset, kept.size_bytes};
    s.checksum = kept.checksum;
    s.framed = kept.framed;
    // (The writer checks that these are stored chunks.)
    if (!kept.chunk_roots.empty()) s.chunk_roots = chunk_root_list({kept.chunk_roots.begin(), kept.chunk_roots.end()});
  } else {
    throw save_failed("instadump: value \"" + std::string(kept.key) + "\" refers to offset " +
                      std::to_string(kept.offset) + " of blob " + std::to_string(kept.blob_id) +
                      ", where no snapshot kept in " + dir.string() +
                      " has a value (pruned or never written); save the value's bytes instead");
  }
}

}  // namespace instadump::storage

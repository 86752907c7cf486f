// Handing out stored chunks to readers (see stored_chunks.h).
#include "storage/stored_chunks.h"

#include <cstring>

#include "common/errors.h"
#include "storage/lmdb_env.h"

namespace instadump::storage {

namespace {

std::string value_name(const std::string* key, const std::string& snapshot) {
  return "value \"" + (key ? *key : std::string()) + "\" of " + snapshot;
}

}  // namespace

stored_chunk_source::~stored_chunk_source() {
  if (cursor_) mdb_cursor_close(cursor_);
}

void stored_chunk_source::visiting(const std::string& key) {
  key_ = &key;
  if (!copies_.empty()) copies_.clear();
}

chunk_view stored_chunk_source::get(std::uint64_t id) const {
  const auto journaled = journaled_ ? journaled_->find(id) : chunk_map::const_iterator();
  const std::span<const std::byte> bytes =
      journaled_ && journaled != journaled_->end() ? journaled->second : stored(id);
  chunk_view view;
  std::string why;
  if (!verify_chunk(bytes, id, view, why)) {
    throw corrupt_data("instadump: chunk " + std::to_string(id) + ", which " + value_name(key_, snapshot_) +
                       " refers to, " + why +
                       "; the snapshot is damaged: load an older snapshot");
  }
  return view;
}

std::span<const std::byte> stored_chunk_source::stored(std::uint64_t id) const {
  MDB_val v{};
  const int rc = dbi_ != 0 ? find(id, v) : MDB_NOTFOUND;
  if (rc == MDB_NOTFOUND) {
    throw corrupt_data("instadump: chunk " + std::to_string(id) + ", which " + value_name(key_, snapshot_) +
                       " refers to, is missing; the snapshot is damaged: load an older snapshot");
  }
  lmdb::check(rc, "mdb_cursor_get (chunk)");
  std::span<const std::byte> bytes = lmdb::bytes_of(v);
  if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(std::uint64_t) != 0) {
    // LMDB keeps values only 2-byte aligned (chunk_format.h wants 8).
    auto& copy = copies_.emplace_back(new std::uint64_t[(bytes.size() + 7) / 8]);
    std::memcpy(copy.get(), bytes.data(), bytes.size());
    bytes = {reinterpret_cast<const std::byte*>(copy.get()), bytes.size()};
  }
  return bytes;
}

int stored_chunk_source::find(std::uint64_t id, MDB_val& v) const {
  if (!cursor_) lmdb::check(mdb_cursor_open(txn_, dbi_, &cursor_), "mdb_cursor_open (chunks)");
  MDB_val k{};
  if (at_ != 0 && id == at_ + 1) {  // the next record, if it is this chunk
    const int rc = mdb_cursor_get(cursor_, &k, &v, MDB_NEXT);
    if (rc == 0 && k.mv_size == 8 && lmdb::decode_id_key(k) == id) {
      at_ = id;
      return 0;
    }
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
  }
  lmdb::id_key key(id);
  k = key.val();
  const int rc = mdb_cursor_get(cursor_, &k, &v, MDB_SET_KEY);
  at_ = rc == 0 ? id : 0;
  return rc;
}

chunk_totals stored_chunk_totals(MDB_txn* txn, MDB_dbi dbi) {
  chunk_totals t;
  if (dbi == 0) return t;
  lmdb::for_each_record(txn, dbi, false, [&](const MDB_val&, const MDB_val& v) {
    ++t.count;
    t.bytes += v.mv_size;
  });
  return t;
}

}  // namespace instadump::storage

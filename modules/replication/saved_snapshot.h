// What a save hands the replication: the snapshot it just wrote, as the
// save knows it -- what it put (with the bytes of the small values it
// encoded, still in memory) and removed on top of its base snapshot -- so
// that shipping it needs no read of the local store. snapshot_shipper
// reads the store for what is not here: values written in place or node
// by node, a copy that is not at the save's base, snapshots saved before.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "replication/key_table.h"
#include "storage/snapshot_types.h"

namespace instadump::replication {

struct saved_snapshot {
  saved_snapshot() = default;
  // Moves keep the owned bytes where they are (the spans stay valid).
  saved_snapshot(saved_snapshot&&) = default;
  saved_snapshot& operator=(saved_snapshot&&) = default;
  saved_snapshot(const saved_snapshot&) = delete;
  saved_snapshot& operator=(const saved_snapshot&) = delete;

  // As write_snapshot() returned it: id, creation time, total bytes of the
  // whole snapshot, and the entries of the values put (keys left empty).
  storage::snapshot_info info;
  // 0: the values put are the whole snapshot. Else the snapshot is local
  // snapshot `base_id` with them put and `removed` taken out.
  std::uint64_t base_id = 0;
  std::vector<std::string> removed;
  // Per entry of info.entries (same order): its key, and the value's bytes
  // exactly as the store keeps them (their checksum is the entry's), or
  // nullopt when the save did not have them in memory (values kept from
  // the base, large ones encoded in place). Both belong to the save until
  // own() is called.
  std::vector<std::string_view> keys;
  std::vector<std::optional<std::span<const std::byte>>> bytes;
  // What holds every span in `bytes` (the save's encoder), shared with
  // whoever keeps the snapshot after the save returned; null when the
  // bytes belong to the save alone.
  std::shared_ptr<const void> bytes_owner;
  // The schemas the save stored with the snapshot (new to the store): the
  // shipper takes them from here rather than asking the store, whose reads
  // first write its journal into data.mdb (a durable LMDB commit).
  std::vector<storage::schema_record> schemas;

  // Makes the snapshot valid after the save returned (for a sender that
  // ships it later): points the keys into `table` (which must outlive the
  // snapshot; it copies each key once), and copies the bytes unless
  // bytes_owner holds them. Returns how many bytes it holds then.
  std::size_t own(key_table& table) {
    for (std::size_t i = 0; i < keys.size(); ++i) {
      keys[i] = table.intern(i < info.entries.size() ? info.entries[i].key_id : 0, keys[i]);
    }
    return own_bytes();
  }
  // What own() made it hold, and what describes it.
  std::size_t held_bytes() const {
    return shared_bytes_ + owned_bytes_.size() +
           info.entries.size() * (sizeof(storage::entry_info) + sizeof(std::string_view) + sizeof(bytes[0]));
  }

 private:
  std::size_t own_bytes() {
    std::size_t total = 0;
    for (const auto& b : bytes) total += b ? b->size() : 0;
    if (bytes_owner) {
      shared_bytes_ = total;
    } else {
      owned_bytes_.resize(total);
      std::size_t at = 0;
      for (auto& b : bytes) {
        if (!b) continue;
        if (!b->empty()) std::memcpy(owned_bytes_.data() + at, b->data(), b->size());
        b = std::span<const std::byte>(owned_bytes_.data() + at, b->size());
        at += b->size();
      }
    }
    return total;
  }

  std::size_t shared_bytes_ = 0;  // of bytes_owner's, in `bytes`
  std::vector<std::byte> owned_bytes_;
};

}  // namespace instadump::replication

// JournalEntry encoding and bounded decoding (see journal_codec.h).
#include "storage/journal_codec.h"

#include <capnp/serialize.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "common/errors.h"
#include "schemas/snapshot.capnp.h"
#include "storage/journal_frame.h"
#include "storage/decode_guard.h"
#include "storage/manifest_codec.h"  // reader_options_for

namespace instadump::storage {
namespace {

constexpr std::size_t kWord = sizeof(capnp::word);

std::size_t words_for(std::size_t bytes) { return (bytes + kWord - 1) / kWord; }

std::span<const std::byte> bytes_of(capnp::Data::Reader d) {
  return {reinterpret_cast<const std::byte*>(d.begin()), d.size()};
}

capnp::Data::Reader data_of(std::span<const std::byte> b) {
  return {reinterpret_cast<const kj::byte*>(b.data()), b.size()};
}

[[noreturn]] void damaged(const std::string& where, const std::string& why) {
  throw corrupt_data("instadump: " + where + ": the journal entry " + why);
}

}  // namespace

std::size_t journal_message_words(std::size_t values, std::size_t new_keys, std::size_t name_bytes,
                                  std::size_t removed, std::size_t schema_bytes) {
  // Root struct and list headers; per value a key id, a size and a schema
  // index (4 bytes each) and a bit; a KeyName 2 words and its name; a
  // SchemaText 2 words and its bytes; a few SchemaIds.
  return 64 + words_for(values * 12 + values / 8 + 8) + new_keys * 3 + words_for(name_bytes) + removed +
         schema_bytes / kWord + 16 + 3 * 16;
}

journal_message::journal_message(std::size_t blob_bytes, std::size_t other_words)
    : message_(static_cast<unsigned>(std::min<std::size_t>(words_for(blob_bytes) + other_words, 1u << 28))) {
  auto root = message_.initRoot<schema::JournalEntry>();
  auto blob = root.initBlob(static_cast<unsigned>(blob_bytes));
  blob_ = {reinterpret_cast<std::byte*>(blob.begin()), blob.size()};
}

void journal_message::finish(const journal_entry& entry) {
  auto root = message_.getRoot<schema::JournalEntry>();
  root.setFormatVersion(kJournalEntryFormat);
  root.setStoreCreatedUnixNanos(entry.store_created_unix_nanos);
  root.setSnapshotId(entry.snapshot_id);
  root.setBaseId(entry.base_id);
  root.setBaseCreatedUnixNanos(entry.base_created_unix_nanos);
  root.setCreatedUnixNanos(entry.created_unix_nanos);
  root.setBlobId(entry.blob_id);
  auto keys = root.initNewKeys(static_cast<unsigned>(entry.new_keys.size()));
  for (unsigned i = 0; i < entry.new_keys.size(); ++i) {
    keys[i].setKeyId(entry.new_keys[i].first);
    const std::string& name = entry.new_keys[i].second;
    keys[i].setName(capnp::Data::Reader(reinterpret_cast<const kj::byte*>(name.data()), name.size()));
  }
  // The values' schemas, by first use (most values of a program share few).
  std::vector<schema_identity> schemas;
  const auto n = static_cast<unsigned>(entry.values.size());
  auto key_ids = root.initKeyIds(n);
  auto sizes = root.initSizes(n);
  auto indexes = root.initSchemaIndexes(n);
  auto framed = root.initFramed(n);
  for (unsigned i = 0; i < n; ++i) {
    const journal_value& v = entry.values[i];
    key_ids.set(i, static_cast<std::uint32_t>(v.key_id));
    sizes.set(i, static_cast<std::uint32_t>(v.size_bytes));
    framed.set(i, v.framed);
    std::size_t at = schemas.size();
    if (at != 0 && schemas.back() == v.schema) {
      at -= 1;
    } else {
      at = static_cast<std::size_t>(std::find(schemas.begin(), schemas.end(), v.schema) - schemas.begin());
      if (at == schemas.size()) schemas.push_back(v.schema);
    }
    indexes.set(i, static_cast<std::uint32_t>(at));
  }
  auto out_schemas = root.initSchemas(static_cast<unsigned>(schemas.size()));
  for (unsigned i = 0; i < schemas.size(); ++i) {
    out_schemas[i].setFingerprint(schemas[i].fingerprint);
    out_schemas[i].setVersion(schemas[i].version);
  }
  auto removed = root.initRemoved(static_cast<unsigned>(entry.removed.size()));
  for (unsigned i = 0; i < entry.removed.size(); ++i) removed.set(i, entry.removed[i]);
  auto texts = root.initSchemaTexts(static_cast<unsigned>(entry.schemas.size()));
  for (unsigned i = 0; i < entry.schemas.size(); ++i) {
    texts[i].setFingerprint(entry.schemas[i].fingerprint);
    texts[i].setBytes(data_of(entry.schemas[i].bytes));
  }

  // Packed: the blob of small values and the lists of small numbers are
  // mostly zero bytes, and the journal's flush costs by the byte.
  static_assert(std::endian::native == std::endian::little, "the segment table is little-endian");
  // The standard framing -- the segment count minus one, each segment's
  // size in words (u32, little-endian), padded to a whole word, then the
  // segments -- packed piece by piece.
  const auto segments = message_.getSegmentsForOutput();
  std::vector<std::uint32_t> table(segments.size() + 2 - segments.size() % 2, 0);
  table[0] = static_cast<std::uint32_t>(segments.size() - 1);
  for (std::size_t i = 0; i < segments.size(); ++i) table[i + 1] = static_cast<std::uint32_t>(segments[i].size());
  const auto table_bytes = std::as_bytes(std::span(table));
  std::size_t room = packed_bound(table_bytes.size());
  for (const auto& s : segments) room += packed_bound(s.size() * kWord);
  packed_ = std::make_unique_for_overwrite<std::byte[]>(room + kWord);
  unpacked_bytes_ = table_bytes.size();
  std::size_t at = pack_words_into(table_bytes, packed_.get());
  for (const auto& s : segments) {
    const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(s.begin()), s.size() * kWord);
    unpacked_bytes_ += bytes.size();
    at += pack_words_into(bytes, packed_.get() + at);
  }
  const std::size_t padded = (at + kWord - 1) / kWord * kWord;
  std::memset(packed_.get() + at, 0, padded - at);
  parts_.assign(1, std::span<const std::byte>(packed_.get(), padded));
}

std::size_t journal_message::payload_bytes() const noexcept {
  std::size_t n = 0;
  for (const auto& p : parts_) n += p.size();
  return n;
}

journal_entry decode_journal_entry(kj::ArrayPtr<const capnp::word> payload, const std::string& where) {
  return decoding(where, "journal entry", "the journal is damaged", [&] {
    capnp::FlatArrayMessageReader reader(payload, reader_options_for(payload.size()));
    auto root = reader.getRoot<schema::JournalEntry>();
    const std::uint32_t format = root.getFormatVersion();
    if (format > kJournalEntryFormat) {
      throw corrupt_data("instadump: " + where + ": the journal entry has format version " + std::to_string(format) +
                         ", but this build of Instadump only knows versions up to " +
                         std::to_string(kJournalEntryFormat) + "; upgrade Instadump to open it");
    }
    if (format != kJournalEntryFormat) damaged(where, "has format version " + std::to_string(format) + " (expected 3)");
    journal_entry e;
    e.store_created_unix_nanos = root.getStoreCreatedUnixNanos();
    e.snapshot_id = root.getSnapshotId();
    e.base_id = root.getBaseId();
    e.base_created_unix_nanos = root.getBaseCreatedUnixNanos();
    e.created_unix_nanos = root.getCreatedUnixNanos();
    if (e.snapshot_id == 0 || e.base_id != e.snapshot_id - 1) {
      damaged(where, "writes snapshot " + std::to_string(e.snapshot_id) + " on snapshot " + std::to_string(e.base_id) +
                         " (a snapshot must follow the one before)");
    }
    e.blob_id = root.getBlobId();
    e.blob = bytes_of(root.getBlob());
    if (!e.blob.empty() && e.blob_id == 0) damaged(where, "has bytes but no blob id");

    auto keys = root.getNewKeys();
    e.new_keys.reserve(keys.size());
    for (auto k : keys) {
      const auto name = bytes_of(k.getName());
      if (k.getKeyId() == 0 || name.empty()) damaged(where, "gives a name key id 0 or an empty name");
      e.new_keys.emplace_back(k.getKeyId(), std::string(reinterpret_cast<const char*>(name.data()), name.size()));
    }
    const auto key_ids = root.getKeyIds();
    const auto sizes = root.getSizes();
    const auto indexes = root.getSchemaIndexes();
    const auto framed = root.getFramed();
    const unsigned n = key_ids.size();
    if (sizes.size() != n || indexes.size() != n || framed.size() != n) {
      damaged(where, "has value lists of different lengths");
    }
    std::vector<schema_identity> schemas;
    for (auto s : root.getSchemas()) schemas.push_back(schema_identity{s.getFingerprint(), s.getVersion()});
    e.values.reserve(n);
    std::uint64_t offset = 0;
    for (unsigned i = 0; i < n; ++i) {
      journal_value& out = e.values.emplace_back();
      out.key_id = key_ids[i];
      out.offset = offset;
      out.size_bytes = sizes[i];
      out.framed = framed[i];
      if (out.key_id == 0) damaged(where, "has a value of key id 0");
      if (out.size_bytes % kWord != 0) damaged(where, "has a value whose size is not a multiple of 8");
      if (indexes[i] >= schemas.size()) damaged(where, "refers to a schema it does not list");
      out.schema = schemas[indexes[i]];
      offset += out.size_bytes;  // (at most 2^32 values of under 2^32 bytes: no overflow)
    }
    if (offset != e.blob.size()) {
      damaged(where, "has values of " + std::to_string(offset) + " bytes in all, but a blob of " +
                         std::to_string(e.blob.size()));
    }
    for (std::uint64_t k : root.getRemoved()) e.removed.push_back(k);
    for (auto s : root.getSchemaTexts()) {
      const auto b = bytes_of(s.getBytes());
      e.schemas.push_back(schema_record{s.getFingerprint(), std::vector<std::byte>(b.begin(), b.end())});
    }
    return e;
  });
}

}  // namespace instadump::storage

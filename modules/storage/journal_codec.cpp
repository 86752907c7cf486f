// JournalEntry encoding and bounded decoding (see journal_codec.h).
#include "storage/journal_codec.h"

#include <capnp/serialize.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "common/errors.h"
#include "schemas/snapshot.capnp.h"
#include "storage/chunk_format.h"
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

// The new chunks and the values' chunk roots of an entry (format 4).
void decode_chunks(schema::JournalEntry::Reader root, journal_entry& e, const std::string& where) {
  const std::span<const std::byte> all = bytes_of(root.getChunks());
  std::uint64_t at = 0;
  for (std::uint32_t size : root.getChunkSizes()) {
    if (size % kWord != 0 || size < kChunkHeaderBytes || size > all.size() - at) {
      damaged(where, "has a chunk of " + std::to_string(size) + " bytes, which does not fit its chunks");
    }
    const std::span<const std::byte> bytes = all.subspan(at, size);
    const std::uint64_t id = chunk_id_of(bytes);
    if (id == 0 || (!e.chunks.empty() && chunk_id_of(e.chunks.back()) >= id)) {
      damaged(where, "lists its chunks out of order (chunk " + std::to_string(id) + ")");
    }
    chunk_view view;
    std::string why;
    if (!verify_chunk(bytes, id, view, why)) damaged(where, "has chunk " + std::to_string(id) + ", which " + why);
    e.chunks.push_back(bytes);
    at += size;
  }
  if (at != all.size()) {
    damaged(where, "has chunks of " + std::to_string(at) + " bytes in all, but " + std::to_string(all.size()) +
                       " bytes of chunks");
  }
  const auto counts = root.getChunkRootCounts();
  const auto roots = root.getChunkRoots();
  if (counts.size() != 0 && counts.size() != e.values.size()) damaged(where, "has chunk root counts not one per value");
  std::uint64_t next = 0;
  for (unsigned i = 0; i < counts.size(); ++i) {
    if (counts[i] > roots.size() - next) damaged(where, "has chunk root counts that add up to more than its roots");
    journal_value& v = e.values[i];
    if (counts[i] != 0 && v.size_bytes == 0) damaged(where, "gives chunk roots to a value without bytes");
    v.chunk_roots.resize(counts[i]);
    for (std::uint32_t j = 0; j < counts[i]; ++j) v.chunk_roots[j] = roots[static_cast<unsigned>(next++)];
  }
  if (next != roots.size()) damaged(where, "has chunk roots that no value lists");
}

}  // namespace

std::uint64_t chunk_id_of(std::span<const std::byte> chunk) noexcept {
  std::uint64_t id;
  std::memcpy(&id, chunk.data() + 8, sizeof id);
  return id;
}

std::size_t journal_message_words(std::size_t values, std::size_t new_keys, std::size_t name_bytes,
                                  std::size_t removed, std::size_t schema_bytes, std::size_t chunks,
                                  std::size_t chunk_roots) {
  // Root struct and list headers; per value a key id, a size and a schema
  // index (4 bytes each) and a bit; a KeyName 2 words and its name; a
  // SchemaText 2 words and its bytes; a few SchemaIds; per chunk a size,
  // per value a count of roots (4 bytes each), per root a word.
  return 64 + words_for(values * 12 + values / 8 + 8) + new_keys * 3 + words_for(name_bytes) + removed +
         schema_bytes / kWord + 16 + 3 * 16 + words_for(chunks * 4 + values * 4) + chunk_roots;
}

journal_message::journal_message(std::size_t blob_bytes, std::size_t chunk_bytes, std::size_t other_words)
    : message_(static_cast<unsigned>(
          std::min<std::size_t>(words_for(blob_bytes) + words_for(chunk_bytes) + other_words, 1u << 28))) {
  auto root = message_.initRoot<schema::JournalEntry>();
  auto blob = root.initBlob(static_cast<unsigned>(blob_bytes));
  blob_ = {reinterpret_cast<std::byte*>(blob.begin()), blob.size()};
  if (chunk_bytes != 0) {
    auto chunks = root.initChunks(static_cast<unsigned>(chunk_bytes));
    chunks_ = {reinterpret_cast<std::byte*>(chunks.begin()), chunks.size()};
  }
}

void journal_message::finish(const journal_entry& entry) {
  auto root = message_.getRoot<schema::JournalEntry>();
  std::size_t roots = 0;
  for (const journal_value& v : entry.values) roots += v.chunk_roots.size();
  const bool with_chunks = roots != 0 || !entry.chunks.empty();
  root.setFormatVersion(with_chunks ? kJournalEntryFormat : kJournalEntryFormatWithoutChunks);
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
  if (!entry.chunks.empty()) {
    auto chunk_sizes = root.initChunkSizes(static_cast<unsigned>(entry.chunks.size()));
    for (unsigned i = 0; i < entry.chunks.size(); ++i) chunk_sizes.set(i, static_cast<std::uint32_t>(entry.chunks[i].size()));
  }
  if (roots != 0) {
    auto counts = root.initChunkRootCounts(n);
    auto out_roots = root.initChunkRoots(static_cast<unsigned>(roots));
    unsigned at_root = 0;
    for (unsigned i = 0; i < n; ++i) {
      const auto& ids = entry.values[i].chunk_roots;
      counts.set(i, static_cast<std::uint32_t>(ids.size()));
      for (std::uint64_t id : ids) out_roots.set(at_root++, id);
    }
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
    if (format != kJournalEntryFormat && format != kJournalEntryFormatBeforeGroups &&
        format != kJournalEntryFormatTreesOnly && format != kJournalEntryFormatWithoutChunks) {
      damaged(where, "has format version " + std::to_string(format) + " (expected 3 to 6)");
    }
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
    decode_chunks(root, e, where);
    return e;
  });
}

}  // namespace instadump::storage

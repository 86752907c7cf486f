// SnapshotRecord encoding and bounded decoding (see record_codec.h).
#include "storage/record_codec.h"

#include "instadump/capnp_compat.h"  // before any Cap'n Proto header

#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <capnp/serialize.h>
#include <kj/io.h>

#include <algorithm>
#include <map>

#include "common/errors.h"
#include "storage/byte_output.h"
#include "storage/decode_guard.h"
#include "storage/error_advice.h"
#include "schemas/snapshot.capnp.h"

namespace instadump::storage {
namespace {

// Records are of format 2 unless a value refers to chunks (format 7; 6 from
// builds before members stored node by node, 5 from builds before leaf
// groups, 4 from builds before deltas).
constexpr std::uint32_t kRecordFormat = 2;
constexpr std::uint32_t kRecordFormatWithChunks = 7;
constexpr std::uint32_t kRecordFormatBeforeMembers = 6;  // (written by builds of format 6; read alike)
constexpr std::uint32_t kRecordFormatBeforeGroups = 5;   // (written by builds of format 5; read alike)
constexpr std::uint32_t kRecordFormatWithTreesOnly = 4;  // (written by builds of format 4; read alike)

// A packed byte stands for at most 128 words (a run of 256 zero words takes
// two bytes), so this bounds the unpacked size -- and the work and memory of
// a decode -- linearly in the input, whatever the bytes claim.
capnp::ReaderOptions packed_reader_options(std::size_t packed_bytes) {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = std::min<std::uint64_t>(packed_bytes, std::uint64_t{1} << 40) * 128 + 1024;
  options.nestingLimit = 16;
  return options;
}

[[noreturn]] void damaged(const std::string& where, const std::string& why) {
  throw corrupt_data("instadump: " + where + ": the stored snapshot record " + why +
                     "; the data is damaged: " + advice::load_older_snapshot);
}

}  // namespace

std::vector<std::byte> encode_record(const snapshot_record& record) {
  // One segment: a ValueEntry takes 7 words, a removed id or a chunk root one.
  std::size_t roots = 0;
  for (const stored_value& v : record.entries) roots += v.chunk_roots.ids().size();
  capnp::MallocMessageBuilder message(static_cast<unsigned>(
      256 + std::min<std::size_t>(7 * record.entries.size() + record.removed.size() + roots, 1u << 28)));
  auto root = message.initRoot<schema::SnapshotRecord>();
  root.setFormatVersion(roots != 0 ? kRecordFormatWithChunks : kRecordFormat);
  root.setSnapshotId(record.id);
  root.setCreatedUnixNanos(record.created_unix_nanos);
  root.setFull(record.full);
  root.setValueCount(record.value_count);
  root.setTotalBytes(record.total_bytes);

  // Schemas by first use, so that a record of one schema stores it once.
  std::vector<schema_identity> schemas;
  std::map<std::pair<std::uint64_t, std::uint32_t>, std::uint32_t> index;
  std::vector<std::uint32_t> schema_of(record.entries.size());
  for (std::size_t i = 0; i < record.entries.size(); ++i) {
    const schema_identity& s = record.entries[i].schema;
    if (i > 0 && record.entries[i - 1].schema == s) {  // (neighbours often share one: no lookup)
      schema_of[i] = schema_of[i - 1];
      continue;
    }
    auto [it, fresh] = index.try_emplace({s.fingerprint, s.version}, static_cast<std::uint32_t>(schemas.size()));
    if (fresh) schemas.push_back(s);
    schema_of[i] = it->second;
  }
  auto out_schemas = root.initSchemas(static_cast<unsigned>(schemas.size()));
  for (unsigned i = 0; i < schemas.size(); ++i) {
    out_schemas[i].setFingerprint(schemas[i].fingerprint);
    out_schemas[i].setVersion(schemas[i].version);
  }
  auto entries = root.initEntries(static_cast<unsigned>(record.entries.size()));
  for (unsigned i = 0; i < record.entries.size(); ++i) {
    const stored_value& v = record.entries[i];
    auto e = entries[i];
    e.setKeyId(v.key_id);
    e.setBlobId(v.ref.blob_id);
    e.setOffset(v.ref.offset);
    e.setSizeBytes(v.ref.size);
    e.setChecksum(v.checksum);
    e.setSchemaIndex(schema_of[i]);
    e.setFramed(v.framed);
    if (!v.chunk_roots.empty()) {
      const auto ids = v.chunk_roots.ids();
      auto out = e.initChunkRoots(static_cast<unsigned>(ids.size()));
      for (unsigned j = 0; j < ids.size(); ++j) out.set(j, ids[j]);
    }
  }
  auto removed = root.initRemoved(static_cast<unsigned>(record.removed.size()));
  for (unsigned i = 0; i < record.removed.size(); ++i) removed.set(i, record.removed[i]);

  // Packed straight into the vector returned, sized for packing's worst
  // case (a word never takes more than 10 bytes: its 8, a tag and a run
  // count): no regrowth and no copy of a record of thousands of entries.
  std::vector<std::byte> bytes;
  bytes.reserve(capnp::computeSerializedSizeInWords(message) * (sizeof(capnp::word) + 2) + 16);
  byte_vector_output out(bytes);
  capnp::writePackedMessage(out, message);
  return bytes;
}

snapshot_record decode_record(std::span<const std::byte> bytes, const std::string& where) {
  return decoding(where, "snapshot record", std::string("the data is damaged: ") + advice::load_older_snapshot, [&] {
    kj::ArrayInputStream in(kj::arrayPtr(reinterpret_cast<const kj::byte*>(bytes.data()), bytes.size()));
    capnp::PackedMessageReader reader(in, packed_reader_options(bytes.size()));
    auto root = reader.getRoot<schema::SnapshotRecord>();
    const std::uint32_t format = root.getFormatVersion();
    if (format > format_version) {
      throw corrupt_data("instadump: " + where + ": the stored snapshot record has format version " +
                         std::to_string(format) + ", but this build of Instadump only knows versions up to " +
                         std::to_string(format_version) + "; upgrade Instadump to read it");
    }
    if (format != kRecordFormat && format != kRecordFormatWithChunks && format != kRecordFormatBeforeMembers &&
        format != kRecordFormatBeforeGroups && format != kRecordFormatWithTreesOnly) {
      damaged(where, "has format version " + std::to_string(format) + " (expected 2, 4, 5, 6 or 7)");
    }
    snapshot_record r;
    r.id = root.getSnapshotId();
    r.created_unix_nanos = root.getCreatedUnixNanos();
    r.full = root.getFull();
    r.value_count = root.getValueCount();
    r.total_bytes = root.getTotalBytes();

    std::vector<schema_identity> schemas;
    for (auto s : root.getSchemas()) schemas.push_back(schema_identity{s.getFingerprint(), s.getVersion()});
    auto entries = root.getEntries();
    r.entries.reserve(entries.size());
    for (auto e : entries) {
      stored_value v;
      v.key_id = e.getKeyId();
      v.ref = value_ref{e.getBlobId(), e.getOffset(), e.getSizeBytes()};
      v.checksum = e.getChecksum();
      v.framed = e.getFramed();
      const std::uint32_t si = e.getSchemaIndex();
      if (si >= schemas.size()) damaged(where, "refers to schema " + std::to_string(si) + " of " + std::to_string(schemas.size()));
      v.schema = schemas[si];
      if (v.ref.offset % 8 != 0 || v.ref.size % 8 != 0) {
        damaged(where, "places a value at offset " + std::to_string(v.ref.offset) + " with size " +
                           std::to_string(v.ref.size) + " (both must be multiples of 8)");
      }
      if (e.hasChunkRoots()) {
        const auto roots = e.getChunkRoots();
        if (roots.size() != 0 && v.ref.size == 0) damaged(where, "gives chunk roots to a value without bytes");
        std::vector<std::uint64_t> ids(roots.size());
        for (unsigned j = 0; j < roots.size(); ++j) ids[j] = roots[j];
        v.chunk_roots = chunk_root_list(std::move(ids));
      }
      if (!r.entries.empty() && r.entries.back().key_id >= v.key_id) damaged(where, "lists its values out of order");
      r.entries.push_back(v);
    }
    for (std::uint64_t k : root.getRemoved()) {
      if (!r.removed.empty() && r.removed.back() >= k) damaged(where, "lists removed keys out of order");
      r.removed.push_back(k);
    }
    if (r.full && !r.removed.empty()) damaged(where, "is full but lists removed keys");
    return r;
  });
}

}  // namespace instadump::storage

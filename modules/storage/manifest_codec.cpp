// StoreMeta / Manifest codecs and decode limits (see manifest_codec.h).
#include "storage/manifest_codec.h"

#include <capnp/serialize.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "common/errors.h"
#include "common/limits.h"
#include "storage/decode_guard.h"
#include "storage/error_advice.h"
#include "schemas/snapshot.capnp.h"

namespace instadump::storage {
namespace {

constexpr const char* kMagic = "instadump";
// Manifests exist only in format 1 (format 2 stores SnapshotRecords).
constexpr std::uint32_t kManifestFormat = 1;

std::span<const std::byte> whole_words(std::span<const std::byte> bytes, const std::string& where,
                                       const char* what) {
  if (bytes.size() % sizeof(capnp::word) != 0) {
    throw corrupt_data("instadump: " + where + ": the stored " + what + " is " + std::to_string(bytes.size()) +
                       " bytes long, expected a multiple of 8; the data is damaged or truncated");
  }
  return bytes;
}

}  // namespace

capnp::ReaderOptions reader_options_for(std::size_t size_words) {
  // Linear in the size, so that a crafted message cannot make a decode do
  // more than linear work; saves check values against the same budget.
  capnp::ReaderOptions options;
  options.traversalLimitInWords = limits::traversal_words(size_words);
  options.nestingLimit = limits::nesting;  // what saves check values against
  return options;
}

aligned_words::aligned_words(std::span<const std::byte> bytes) {
  const std::size_t n = bytes.size() / sizeof(capnp::word);
  if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(capnp::word) == 0) {
    words_ = kj::arrayPtr(reinterpret_cast<const capnp::word*>(bytes.data()), n);
  } else {
    copy_ = kj::heapArray<capnp::word>(n);
    if (n != 0) std::memcpy(copy_.begin(), bytes.data(), n * sizeof(capnp::word));
    words_ = copy_.asPtr();
  }
}

kj::Array<capnp::word> encode_store_meta(const store_meta& meta) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<schema::StoreMeta>();
  root.setMagic(kMagic);
  root.setFormatVersion(meta.format_version);
  root.setCreatedUnixNanos(meta.created_unix_nanos);
  return capnp::messageToFlatArray(message);
}

store_meta decode_store_meta(std::span<const std::byte> bytes, const std::string& where) {
  return decoding(where, "store meta record", "the directory is not an Instadump store or is damaged", [&] {
    aligned_words words(whole_words(bytes, where, "store meta record"));
    capnp::FlatArrayMessageReader reader(words.words(), reader_options_for(words.words().size()));
    auto root = reader.getRoot<schema::StoreMeta>();
    if (root.getMagic() != kj::StringPtr(kMagic)) {
      throw corrupt_data("instadump: " + where + ": the meta record's magic is \"" +
                         std::string(root.getMagic().cStr()) + "\", expected \"instadump\"");
    }
    return store_meta{root.getFormatVersion(), root.getCreatedUnixNanos()};
  });
}

kj::Array<capnp::word> encode_manifest(const snapshot_info& snapshot) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<schema::Manifest>();
  root.setFormatVersion(kManifestFormat);
  root.setSnapshotId(snapshot.id);
  root.setCreatedUnixNanos(snapshot.created_unix_nanos);
  auto entries = root.initEntries(static_cast<unsigned>(snapshot.entries.size()));
  for (unsigned i = 0; i < snapshot.entries.size(); ++i) {
    const entry_info& e = snapshot.entries[i];
    auto out = entries[i];
    out.setKey(capnp::Text::Reader(e.key.data(), e.key.size()));
    out.setBlobId(e.blob_id);
    out.setSizeBytes(e.size_bytes);
    out.setChecksum(e.checksum);
    out.setSchemaFingerprint(e.schema.fingerprint);
    out.setSchemaVersion(e.schema.version);
  }
  return capnp::messageToFlatArray(message);
}

snapshot_info decode_manifest(std::span<const std::byte> bytes, const std::string& where) {
  return decoding(where, "manifest", std::string("the data is damaged: ") + advice::load_older_snapshot, [&] {
    aligned_words words(whole_words(bytes, where, "manifest"));
    capnp::FlatArrayMessageReader reader(words.words(), reader_options_for(words.words().size()));
    auto root = reader.getRoot<schema::Manifest>();
    const std::uint32_t version = root.getFormatVersion();
    if (version != kManifestFormat) {
      throw corrupt_data("instadump: " + where + ": the manifest has format version " + std::to_string(version) +
                         ", but manifests exist only in format 1; the data is damaged");
    }
    snapshot_info info;
    info.id = root.getSnapshotId();
    info.created_unix_nanos = root.getCreatedUnixNanos();
    auto entries = root.getEntries();
    info.entries.reserve(entries.size());
    for (auto e : entries) {
      auto key = e.getKey();
      entry_info out;
      out.key.assign(key.begin(), key.size());
      out.blob_id = e.getBlobId();
      out.size_bytes = e.getSizeBytes();
      out.checksum = e.getChecksum();
      out.schema = schema_identity{e.getSchemaFingerprint(), e.getSchemaVersion()};
      out.framed = true;  // format 1 stored whole framed messages, one per blob
      if (!info.entries.empty() && !(info.entries.back().key < out.key)) {
        throw corrupt_data("instadump: " + where + ": manifest entries are not sorted and unique (key \"" +
                           out.key + "\" after \"" + info.entries.back().key + "\"); the data is damaged");
      }
      info.total_bytes += out.size_bytes;
      info.entries.push_back(std::move(out));
    }
    return info;
  });
}

}  // namespace instadump::storage

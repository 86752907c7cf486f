// Writes the seed corpus of fuzz_snapshot_decode into a directory: valid
// snapshot records (full, a change with removed keys, empty), format 1
// manifests (empty, one entry, several entries with long keys), a meta
// record, journal files (two entries; one cut short), and truncated ones.
// Usage: make_fuzz_seeds <dir>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <cstring>

#include "replication/entry_column.h"
#include "storage/chunk_format.h"
#include "storage/journal_codec.h"
#include "storage/journal_frame.h"
#include "storage/manifest_codec.h"
#include "storage/record_codec.h"

using namespace instadump::storage;

namespace {
void write(const std::filesystem::path& path, kj::ArrayPtr<const capnp::byte> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.begin()), static_cast<std::streamsize>(bytes.size()));
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);

  snapshot_info empty;
  empty.id = 1;
  write(dir / "manifest-empty", encode_manifest(empty).asBytes());

  snapshot_info one = empty;
  one.id = 2;
  one.created_unix_nanos = 1'700'000'000'000'000'000;
  one.entries.push_back(entry_info{"counter", {0x1234, 1}, 1, 64, 0xdeadbeef});
  write(dir / "manifest-one", encode_manifest(one).asBytes());

  snapshot_info many = one;
  many.id = 3;
  many.entries.clear();
  for (int i = 0; i < 5; ++i) {
    many.entries.push_back(entry_info{"ns::deeply::nested<" + std::string(40 * i, 'x') + ">::v" + std::to_string(i),
                                      {std::uint64_t(i) * 77, std::uint32_t(i)}, std::uint64_t(i) + 10,
                                      std::uint64_t(i) * 8, std::uint64_t(i) * 999});
  }
  auto many_bytes = encode_manifest(many);
  write(dir / "manifest-many", many_bytes.asBytes());
  write(dir / "manifest-truncated", many_bytes.asBytes().slice(0, many_bytes.asBytes().size() / 2));

  write(dir / "store-meta", encode_store_meta(store_meta{format_version, 42}).asBytes());

  auto write_record = [&](const char* name, const snapshot_record& r) {
    const std::vector<std::byte> bytes = encode_record(r);
    write(dir / name, kj::arrayPtr(reinterpret_cast<const capnp::byte*>(bytes.data()), bytes.size()));
    return bytes;
  };
  snapshot_record full;
  full.id = 7;
  full.full = true;
  full.created_unix_nanos = 1'700'000'000'000'000'000;
  for (std::uint64_t k = 1; k <= 6; ++k) {
    full.entries.push_back(stored_value{k, value_ref{3, (k - 1) * 64, 64}, k * 0x9E3779B97F4A7C15ull,
                                        {0x5000 + k % 2, 1}, k == 6});
  }
  full.value_count = 6;
  full.total_bytes = 6 * 64;
  const auto full_bytes = write_record("record-full", full);
  write(dir / "record-truncated",
        kj::arrayPtr(reinterpret_cast<const capnp::byte*>(full_bytes.data()), full_bytes.size() / 2));
  snapshot_record change;
  change.id = 8;
  change.entries.push_back(stored_value{2, value_ref{4, 0, 16}, 99, {0x5000, 2}, false});
  change.entries.push_back(stored_value{9, value_ref{}, 0, {0x5001, 1}, false});
  change.removed = {3, 5};
  change.value_count = 5;
  write_record("record-change", change);
  snapshot_record empty_record;
  empty_record.id = 1;
  empty_record.full = true;
  write_record("record-empty", empty_record);

  // A journal of two entries, as a store writes it, and the same cut short.
  std::vector<std::byte> journal;
  for (std::uint64_t id : {5, 6}) {
    journal_entry e;
    e.store_created_unix_nanos = 42;
    e.snapshot_id = id;
    e.base_id = id - 1;
    e.created_unix_nanos = 1000 + static_cast<std::int64_t>(id);
    e.base_created_unix_nanos = e.created_unix_nanos - 1;
    e.new_keys = {{id + 10, "ns::value" + std::to_string(id)}};
    e.blob_id = id + 100;
    e.removed = {3};
    e.schemas.push_back(schema_record{0x77, std::vector<std::byte>(24, std::byte{'s'})});
    // Entry 6 (format 4) carries chunks: a leaf and a branch over it, the
    // branch a root of its first value.
    const std::uint64_t leaf_words[2] = {id, 7};
    const std::vector<std::byte> leaf = encode_chunk(
        20, {0x5000, 1}, 0xA1, {}, kj::arrayPtr(reinterpret_cast<const capnp::word*>(leaf_words), 2));
    const std::uint64_t kids[1] = {20};
    const std::vector<std::byte> branch = encode_chunk(
        21, {0x5000, 1}, 0xB1, kids, kj::arrayPtr(reinterpret_cast<const capnp::word*>(leaf_words), 1));
    const bool with_chunks = id == 6;
    journal_message message(32, with_chunks ? leaf.size() + branch.size() : 0,
                            journal_message_words(2, 1, 16, 1, 32, with_chunks ? 2 : 0, with_chunks ? 1 : 0));
    for (std::size_t i = 0; i < 32; ++i) message.blob()[i] = static_cast<std::byte>(i * id);
    for (std::uint64_t i = 0; i < 2; ++i) {
      e.values.push_back(journal_value{id + 10 - i, i * 16, 16, {0x5000 + i, 1}, i == 1, {}});
    }
    if (with_chunks) {
      std::memcpy(message.chunks().data(), leaf.data(), leaf.size());
      std::memcpy(message.chunks().data() + leaf.size(), branch.data(), branch.size());
      e.chunks = {message.chunks().first(leaf.size()), message.chunks().subspan(leaf.size())};
      e.values[0].chunk_roots = {21};
      write(dir / "chunk", kj::arrayPtr(reinterpret_cast<const capnp::byte*>(branch.data()), branch.size()));
    }
    message.finish(e);
    std::byte header[kJournalFrameHeaderBytes];
    fill_journal_frame_header(header, id, message.unpacked_bytes(), message.payload());
    journal.insert(journal.end(), header, header + sizeof header);
    for (const auto& part : message.payload()) journal.insert(journal.end(), part.begin(), part.end());
    if (id == 6) {  // the entry alone, unpacked, as the decoder sees it
      std::vector<std::byte> packed;
      for (const auto& part : message.payload()) packed.insert(packed.end(), part.begin(), part.end());
      std::vector<std::byte> entry(message.unpacked_bytes());
      if (!unpack_words(packed, entry)) return 1;
      write(dir / "journal-entry", kj::arrayPtr(reinterpret_cast<const capnp::byte*>(entry.data()), entry.size()));
    }
  }
  write(dir / "journal", kj::arrayPtr(reinterpret_cast<const capnp::byte*>(journal.data()), journal.size()));
  write(dir / "journal-torn", kj::arrayPtr(reinterpret_cast<const capnp::byte*>(journal.data()), journal.size() - 40));

  // An entry of the replicated copy: a value with two chunk roots.
  {
    instadump::replication::copy_entry e;
    e.schema = {0x1122334455667788ull, 3};
    e.checksum = 0x99aabbccddeeff00ull;
    e.chunk_roots = {21, 22};
    const std::byte value[16] = {std::byte{1}, std::byte{2}, std::byte{3}};
    std::vector<std::byte> entry(instadump::replication::entry_bytes(e, sizeof value));
    instadump::replication::write_entry(entry, e, value);
    write(dir / "replicated-entry", kj::arrayPtr(reinterpret_cast<const capnp::byte*>(entry.data()), entry.size()));
  }
  return 0;
}

// libFuzzer target: arbitrary bytes as a stored snapshot record (format 2,
// packed; then replayed as the store replays records), a format 1 manifest,
// a stored meta record, a journal file (its frames, and each frame's entry
// decoded), a journal entry on its own (with chunks: format 4), a chunk
// (parsed as a reader does, and its header as the writer reads it at open),
// a stored value -- framed or a single segment -- decoded with
// reader_options_for(), and an entry of the replicated copy in PostgreSQL.
//
// The decoders must never crash, hang or allocate without bound on any
// input, and may only report bad input as instadump::corrupt_data
// (replication_error for the copy's entries; any other
// exception escapes and libFuzzer reports it as a crash).
#include "instadump/capnp_compat.h"  // before any Cap'n Proto header

#include <capnp/any.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "common/errors.h"
#include "replication/entry_column.h"
#include "storage/chunk_format.h"
#include "storage/journal_codec.h"
#include "storage/journal_frame.h"
#include "storage/manifest_codec.h"
#include "storage/record_codec.h"
#include "storage/snapshot_chain.h"
#include "storage/value_message.h"

using namespace instadump::storage;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);

  try {
    const snapshot_record record = decode_record(bytes, "fuzz input");
    // What the store does with a decoded record: replay it onto the view
    // before it (here: nothing, and itself), rebuild a chain from it, and
    // write it again.
    snapshot_view view;
    apply_record(view, record, [] { return std::string("fuzz input"); });
    apply_record(view, record, [] { return std::string("fuzz input"); });
    if (record.full) (void)rebuild_chain({record}, record.id);
    (void)encode_record(record);
  } catch (const instadump::corrupt_data&) {
  }
  try {
    const snapshot_info info = decode_manifest(bytes, "fuzz input");
    // What the store does with a decoded manifest: re-encode it on the next save.
    (void)encode_manifest(info);
  } catch (const instadump::corrupt_data&) {
  }
  try {
    (void)decode_store_meta(bytes, "fuzz input");
  } catch (const instadump::corrupt_data&) {
  }

  // A journal file: the frames a writable open would take, each entry
  // decoded as the open decodes it (and written again, as a save would).
  auto entry_of = [](kj::ArrayPtr<const capnp::word> words) {
    try {
      const journal_entry e = decode_journal_entry(words, "fuzz input");
      std::size_t chunk_bytes = 0, roots = 0;
      for (const auto& c : e.chunks) chunk_bytes += c.size();
      for (const journal_value& v : e.values) roots += v.chunk_roots.size();
      journal_message again(e.blob.size(), chunk_bytes,
                            journal_message_words(e.values.size(), e.new_keys.size(), 64, e.removed.size(), 64,
                                                  e.chunks.size(), roots));
      std::copy(e.blob.begin(), e.blob.end(), again.blob().begin());
      std::size_t at = 0;
      for (const auto& c : e.chunks) {
        std::copy(c.begin(), c.end(), again.chunks().begin() + static_cast<std::ptrdiff_t>(at));
        at += c.size();
      }
      again.finish(e);
    } catch (const instadump::corrupt_data&) {
    }
  };
  for (const journal_frame& frame : parse_journal_frames(bytes)) {
    entry_of(kj::arrayPtr(reinterpret_cast<const capnp::word*>(frame.payload.data()), frame.payload.size()));
  }
  // A read-only store's walk: frames below an id taken by their headers
  // alone (an id from the input), the damage check where it stopped, and
  // the first frame's id.
  {
    const std::uint64_t keep_from = size >= 8 ? std::to_integer<std::uint64_t>(bytes[size - 1]) % 8 : 0;
    const journal_walk walk = walk_journal_frames(bytes, 0, keep_from);
    (void)find_damaged_frame(bytes, walk);
    (void)first_frame_id(bytes);
  }
  // The unpacker on its own: bytes that unpack to some size.
  for (std::size_t words : {std::size_t{1}, size / 4 + 1}) {
    std::vector<std::byte> out(words * sizeof(capnp::word));
    (void)unpack_words(bytes, out);
  }

  // A value: the store hands whole words to the loader, which decodes them
  // with reader_options_for(). Walking the whole message (targetSize) visits
  // every pointer, as a generated loader would.
  const std::span<const std::byte> whole = bytes.first(size - size % sizeof(capnp::word));
  aligned_words words(whole);
  for (bool framed : {true, false}) {
    try {
      value_message message(words.words(), framed, reader_options_for(words.words().size()));
      (void)message.reader().getRoot<capnp::AnyPointer>().targetSize();
    } catch (const kj::Exception&) {
    }
  }
  entry_of(words.words());  // a journal entry without its frame

  // A chunk: parsed (aligned, as readers hand it over) under the id it
  // claims and under another, and its header read at any alignment.
  const std::span<const std::byte> chunk(reinterpret_cast<const std::byte*>(words.words().begin()), whole.size());
  chunk_header header;
  if (read_chunk_header(bytes, header)) {
    for (std::uint64_t id : {header.id, header.id + 1}) {
      try {
        const chunk_view v = parse_chunk(chunk, id, "fuzz input");
        std::uint64_t sum = v.id + v.node_type + v.schema.fingerprint;
        for (std::uint64_t child : v.children) sum += child;
        if (v.payload.size() != 0) sum += static_cast<std::uint64_t>(v.payload.asBytes().back());
        volatile std::uint64_t sink = sum;  // every read of the view happens
        (void)sink;
      } catch (const instadump::corrupt_data&) {
      }
    }
  }

  // A replicated copy's entry (instadump.entries), whole and as the head a
  // reader fetches: bad bytes are replication_error.
  try {
    const instadump::replication::read_entry e = instadump::replication::decode_entry(bytes, "fuzz input");
    std::uint64_t sum = e.entry.checksum + e.entry.schema.fingerprint + e.bytes.size();
    for (std::uint64_t root : e.entry.chunk_roots) sum += root;
    volatile std::uint64_t sink = sum;
    (void)sink;
  } catch (const instadump::replication_error&) {
  }
  try {
    (void)instadump::replication::decode_entry_head(bytes, static_cast<std::int64_t>(size) + 16, "fuzz input");
  } catch (const instadump::replication_error&) {
  }
  return 0;
}

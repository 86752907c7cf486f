// Replaying a journal entry into data.mdb and checking where it landed (see
// journal_replay.h).
#include "storage/journal_replay.h"

#include <string>
#include <utility>

#include "common/errors.h"
#include "storage/record_io.h"

namespace instadump::storage {

std::uint64_t replay_journaled(lmdb_writer& writer, MDB_txn* txn, const journal_entry& e) {
  const writer_state& w = writer.state(txn);
  const std::string where = snapshot_name(e.snapshot_id, writer.env().dir()) + " (from its journal)";
  if (w.chain.newest != e.base_id) {
    throw storage_error("instadump: " + where + " builds on snapshot " + std::to_string(e.base_id) +
                        ", but data.mdb's newest is " + std::to_string(w.chain.newest));
  }
  auto name_of = [&](std::uint64_t id) -> const std::string& {
    for (const auto& [new_id, name] : e.new_keys) {
      if (new_id == id) return name;
    }
    if (id < w.names.size() && !w.names[id].empty()) return w.names[id];
    throw storage_error("instadump: " + where + " names key id " + std::to_string(id) + ", which data.mdb does not know");
  };
  snapshot_delta delta;
  delta.put.reserve(e.values.size());
  for (const journal_value& v : e.values) {
    new_value nv;
    nv.key = name_of(v.key_id);
    nv.schema = v.schema;
    nv.size_bytes = v.size_bytes;
    nv.framed = v.framed;
    nv.key_id = v.key_id;
    nv.bytes = e.blob.subspan(v.offset, v.size_bytes);
    nv.chunk_roots = v.chunk_roots;
    delta.put.emplace_back(std::move(nv));
  }
  for (std::uint64_t id : e.removed) delta.remove.push_back(name_of(id));
  delta.chunks.reserve(e.chunks.size());
  for (const std::span<const std::byte> c : e.chunks) delta.chunks.push_back(new_chunk{chunk_id_of(c), c});

  std::uint64_t freed = 0;
  const snapshot_info info = writer.write_in_batch(txn, e.base_id, delta, e.schemas, e.created_unix_nanos, freed);
  // The entry's ids were handed out when it was journaled: data.mdb must
  // have the snapshot exactly there. (Checksums are of the same bytes.)
  bool same = info.id == e.snapshot_id && info.entries.size() == e.values.size();
  for (std::size_t i = 0; same && i < e.values.size(); ++i) {
    const journal_value& v = e.values[i];
    const entry_info& got = info.entries[i];
    const bool has_bytes = v.size_bytes != 0;
    same = got.key_id == v.key_id && got.size_bytes == v.size_bytes && got.schema == v.schema &&
           got.framed == v.framed && got.blob_id == (has_bytes ? e.blob_id : 0) &&
           got.offset == (has_bytes ? v.offset : 0) && got.chunk_roots == v.chunk_roots;
  }
  if (!same) {
    throw storage_error("instadump: " + where + " was written into data.mdb other than it was journaled "
                        "(a bug in Instadump); the store refuses further writes");
  }
  return freed;
}

}  // namespace instadump::storage

// `instadump stats DIR`: where the space goes -- the LMDB environment (map,
// pages used, free pages), the store's blobs and chunks, the journal, and
// each value of the newest snapshot.
#include <cstdio>
#include <set>
#include <string>

#include "commands.h"
#include "journal_check.h"
#include "lmdb_direct.h"
#include "store_access.h"
#include "stored_schemas.h"

namespace instadump::cli {
namespace {

// Bytes of the chunks reachable from `roots` not counted yet (`seen`).
std::uint64_t chunk_bytes(const storage::chunk_source& chunks, const std::vector<std::uint64_t>& roots,
                          std::set<std::uint64_t>& seen, std::uint64_t& count) {
  std::uint64_t bytes = 0;
  std::vector<std::uint64_t> todo(roots.begin(), roots.end());
  while (!todo.empty()) {
    const std::uint64_t id = todo.back();
    todo.pop_back();
    if (!seen.insert(id).second) continue;
    const storage::chunk_view c = chunks.get(id);
    bytes += storage::chunk_bytes(c.children.size(), c.payload.size());
    ++count;
    todo.insert(todo.end(), c.children.begin(), c.children.end());
  }
  return bytes;
}

}  // namespace

int run_stats(const std::filesystem::path& dir) {
  open_read_only(dir);  // the tool's own checks and errors first (no such directory, not a store, ...)
  // (LMDB: not while the store is open in this process)
  const lmdb_space space = read_lmdb_space(dir);
  const std::uint64_t data_newest = newest_in_data_file(dir);
  auto store = open_read_only(dir);
  const storage::store_stats s = store->stats();  // blobs and chunks (its sizes are data.mdb's, as above)
  const std::vector<std::uint64_t> ids = store->snapshot_ids();

  std::printf("data.mdb\n");
  std::printf("  file            %12llu bytes\n", static_cast<unsigned long long>(space.file_bytes));
  std::printf("  map size        %12llu bytes\n", static_cast<unsigned long long>(space.map_bytes));
  std::printf("  page size       %12llu bytes\n", static_cast<unsigned long long>(space.page_size));
  std::printf("  pages used      %12llu (%llu bytes)\n", static_cast<unsigned long long>(space.pages_used),
              static_cast<unsigned long long>(space.pages_used * space.page_size));
  std::printf("  free pages      %12llu (reused by later saves)\n", static_cast<unsigned long long>(space.free_pages));
  std::printf("  readers         %12llu of %llu slots\n", static_cast<unsigned long long>(space.readers_used),
              static_cast<unsigned long long>(space.readers_max));
  std::printf("  newest snapshot %12llu\n", static_cast<unsigned long long>(data_newest));
  std::printf("  blobs           %12llu (%llu bytes)\n", static_cast<unsigned long long>(s.blob_count),
              static_cast<unsigned long long>(s.live_bytes));
  std::printf("  chunks          %12llu (%llu bytes)\n", static_cast<unsigned long long>(s.chunk_count),
              static_cast<unsigned long long>(s.chunk_bytes));

  const std::uint64_t newest = ids.empty() ? 0 : ids.front();
  const journal_contents journal = read_journal(dir, newest, [](std::uint64_t) { return std::string(); });
  std::printf("snapshots         %12llu (with the journal's)\n", static_cast<unsigned long long>(ids.size()));
  std::printf("journal.log\n");
  if (!journal.present) {
    std::printf("  (none)\n");
  } else {
    std::uint64_t pending = 0, frame_bytes = 0;
    for (std::size_t i = 0; i < journal.frames.size(); ++i) {
      if (journal.frames[i].snapshot_id > data_newest) ++pending;
      frame_bytes += journal.frame_bytes[i].size();
    }
    std::printf("  file            %12llu bytes\n", static_cast<unsigned long long>(journal.file_bytes));
    std::printf("  intact frames   %12zu (%llu bytes)\n", journal.frames.size(),
                static_cast<unsigned long long>(frame_bytes));
    std::printf("  not in data.mdb %12llu snapshots\n", static_cast<unsigned long long>(pending));
    std::printf("  damaged frames  %12zu\n", journal.damaged.size());
  }

  if (ids.empty()) {
    std::printf("values: no snapshot yet\n");
    return 0;
  }
  std::vector<std::string> lines;
  std::set<std::uint64_t> seen;
  const storage::snapshot_info info = read_chosen_snapshot(
      *store, std::nullopt,
      [&](const storage::snapshot_info&) {
        lines.clear();
        seen.clear();
      },
      [&](const storage::entry_info& e, kj::ArrayPtr<const capnp::word>, const storage::chunk_source& chunks) {
        std::uint64_t count = 0;
        const std::uint64_t bytes = chunk_bytes(chunks, e.chunk_roots, seen, count);
        char line[512];
        std::snprintf(line, sizeof line, "  %12llu %8llu %12llu  %-21s ", static_cast<unsigned long long>(e.size_bytes),
                      static_cast<unsigned long long>(count), static_cast<unsigned long long>(bytes),
                      (hex_fingerprint(e.schema.fingerprint) + " v" + std::to_string(e.schema.version)).c_str());
        lines.push_back(line + e.key);
      });
  std::printf("values of snapshot %llu\n", static_cast<unsigned long long>(info.id));
  std::printf("  %12s %8s %12s  %-21s %s\n", "BYTES", "CHUNKS", "CHUNK BYTES", "SCHEMA", "KEY");
  for (const std::string& l : lines) std::printf("%s\n", l.c_str());
  return 0;
}

}  // namespace instadump::cli

// `instadump diff DIR ID1 ID2`: which values were added, removed or changed
// from snapshot ID1 to ID2 and, for values small enough to read on one
// line, their text before and after.
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>

#include "commands.h"
#include "common/errors.h"
#include "output_buffer.h"
#include "storage/chunked_members_codec.h"
#include "store_access.h"
#include "stored_value.h"
#include "text_emitter.h"

namespace instadump::cli {
namespace {

// Values up to this size are shown, and collections stored node by node of
// up to this many entries (a larger one: its number of entries).
constexpr std::uint64_t kShownBytes = 4096;
constexpr std::uint64_t kShownEntries = 64;
// Renderings longer than this are cut.
constexpr std::size_t kShownChars = 400;

bool same_value(const storage::entry_info& a, const storage::entry_info& b) {
  return a.schema == b.schema && a.size_bytes == b.size_bytes && a.checksum == b.checksum &&
         a.chunk_roots == b.chunk_roots;
}

// How many entries the collections stored node by node of the value with
// chunks `e`, whose bytes are `words`, hold (0: unknown, the walk says why).
std::uint64_t chunked_entries(const storage::entry_info& e, kj::ArrayPtr<const capnp::word> words) {
  if (storage::holds_chunked_members(words)) {
    try {
      std::uint64_t entries = 0;
      for (const auto& m : storage::chunked_members_value(words, e.key).members()) entries += m.size;
      return entries;
    } catch (const error&) {
      return 0;
    }
  }
  std::uint64_t entries = 0;
  if (words.size() == 4) std::memcpy(&entries, words.begin() + 2, sizeof entries);  // ChunkedCollection.size
  return entries;
}

// The text of the values `keys` in snapshot `id`.
std::map<std::string, std::string> render(storage::snapshot_store& store, schema_library& schemas, std::uint64_t id,
                                          const std::set<std::string>& keys) {
  std::map<std::string, std::string> out;
  if (keys.empty()) return out;
  store.read_snapshot(id, [&](const storage::entry_info& e, kj::ArrayPtr<const capnp::word> words,
                              const storage::chunk_source& chunks) {
    if (!keys.count(e.key)) return;
    if (!e.chunk_roots.empty()) {
      const std::uint64_t entries = chunked_entries(e, words);
      if (entries > kShownEntries) {
        out[e.key] = storage::holds_chunked_members(words)
                         ? "(a value whose members stored node by node hold " + std::to_string(entries) + " entries)"
                         : "(a collection of " + std::to_string(entries) + " entries)";
        return;
      }
    }
    output_buffer text;
    text_emitter emitter(text, true);
    value_walker walker(emitter, nullptr);
    walk_stored_value(e, words, chunks, schemas, walker);
    std::string s = text.take();
    if (s.size() > kShownChars) s = s.substr(0, kShownChars) + "...";
    out[e.key] = std::move(s);
  });
  return out;
}

std::string size_text(const storage::entry_info& e) {
  std::string s = std::to_string(e.size_bytes) + " bytes";
  if (!e.chunk_roots.empty()) s += " + chunks";
  return s + ", schema v" + std::to_string(e.schema.version);
}

}  // namespace

int run_diff(const std::filesystem::path& dir, std::uint64_t from, std::uint64_t to) {
  auto store = open_read_only(dir);
  const storage::snapshot_info a = find_snapshot(*store, from);
  const storage::snapshot_info b = find_snapshot(*store, to);
  std::map<std::string, const storage::entry_info*> before, after;
  for (const auto& e : a.entries) before[e.key] = &e;
  for (const auto& e : b.entries) after[e.key] = &e;

  std::set<std::string> shown;
  for (const auto& [key, e] : after) {
    auto it = before.find(key);
    if (it != before.end() && same_value(*it->second, *e)) continue;
    auto small = [](const storage::entry_info& x) { return x.size_bytes <= kShownBytes; };
    if (small(*e) && (it == before.end() || small(*it->second))) shown.insert(key);
  }
  schema_library schemas(*store);
  std::map<std::string, std::string> old_text = render(*store, schemas, a.id, shown);
  std::map<std::string, std::string> new_text = render(*store, schemas, b.id, shown);

  std::size_t added = 0, removed = 0, changed = 0, unchanged = 0;
  std::set<std::string> keys;
  for (const auto& [k, e] : before) keys.insert(k);
  for (const auto& [k, e] : after) keys.insert(k);
  for (const std::string& key : keys) {
    auto was = before.find(key);
    auto is = after.find(key);
    if (was == before.end()) {
      ++added;
      std::printf("+ %s (%s)\n", key.c_str(), size_text(*is->second).c_str());
      if (shown.count(key)) std::printf("    = %s\n", new_text[key].c_str());
    } else if (is == after.end()) {
      ++removed;
      std::printf("- %s (%s)\n", key.c_str(), size_text(*was->second).c_str());
    } else if (same_value(*was->second, *is->second)) {
      ++unchanged;
    } else {
      ++changed;
      std::printf("~ %s (%s -> %s)\n", key.c_str(), size_text(*was->second).c_str(), size_text(*is->second).c_str());
      if (shown.count(key)) {
        std::printf("    - %s\n    + %s\n", old_text[key].c_str(), new_text[key].c_str());
      }
    }
  }
  std::printf("snapshot %llu -> %llu: %zu changed, %zu added, %zu removed, %zu unchanged\n",
              static_cast<unsigned long long>(a.id), static_cast<unsigned long long>(b.id), changed, added, removed,
              unchanged);
  return 0;
}

}  // namespace instadump::cli

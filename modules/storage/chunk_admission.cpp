// Checking a write's chunks (see chunk_admission.h).
#include "storage/chunk_admission.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "common/errors.h"
#include "storage/chunk_format.h"

namespace instadump::storage {
namespace {

[[noreturn]] void refuse(const std::filesystem::path& dir, const std::string& why) {
  throw save_failed("instadump: a snapshot for the store in " + dir.string() + ": " + why + "; nothing was written");
}

std::string chunk_name(std::uint64_t id) { return "chunk " + std::to_string(id); }

}  // namespace

admitted_chunks admit_chunks(const chunk_ledger& stored, std::uint64_t next_chunk_id,
                             std::span<const new_chunk> chunks, std::span<const value_roots> values,
                             const std::filesystem::path& dir, bool sealed_here) {
  admitted_chunks out;
  out.next_chunk_id = next_chunk_id;
  std::vector<std::size_t> order(chunks.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (!std::is_sorted(chunks.begin(), chunks.end(), [](const auto& a, const auto& b) { return a.id < b.id; })) {
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return chunks[a].id < chunks[b].id; });
  }
  out.links.reserve(chunks.size());
  out.bytes.reserve(chunks.size());
  for (std::size_t i : order) {
    const new_chunk& c = chunks[i];
    if (c.id < next_chunk_id) {
      refuse(dir, chunk_name(c.id) + " has an id below next_chunk_id() (" + std::to_string(next_chunk_id) +
                      "): chunk ids are never reused; take new ones from next_chunk_id() on");
    }
    if (!out.links.empty() && out.links.back().id == c.id) refuse(dir, chunk_name(c.id) + " is given twice");
    if (reinterpret_cast<std::uintptr_t>(c.bytes.data()) % alignof(std::uint64_t) != 0) {
      refuse(dir, "the bytes of " + chunk_name(c.id) + " are not 8-byte aligned; pass them as encode_chunk returns them");
    }
    chunk_view view;
    std::string why;
    if (!(sealed_here ? read_chunk_layout(c.bytes, c.id, view, why) : verify_chunk(c.bytes, c.id, view, why))) {
      refuse(dir, chunk_name(c.id) + " is not a whole chunk: it " + why + " (build chunks with encode_chunk)");
    }
    out.links.push_back(chunk_links{c.id, {view.children.begin(), view.children.end()}});
    out.bytes.push_back(c.bytes);
    out.total_bytes += c.bytes.size();
  }
  if (!out.links.empty()) out.next_chunk_id = out.links.back().id + 1;

  // References: to a new chunk (noted, so that every new one is referred to) or a stored one.
  std::vector<bool> referred(out.links.size(), false);
  auto refer = [&](std::uint64_t id) {
    if (const chunk_links* c = find_created(out.links, id)) {
      referred[static_cast<std::size_t>(c - out.links.data())] = true;
      return true;
    }
    return stored.contains(id);
  };
  for (const chunk_links& c : out.links) {
    for (std::uint64_t child : c.children) {
      if (child >= c.id) {
        refuse(dir, chunk_name(c.id) + " lists child " + std::to_string(child) +
                        ", whose id is not smaller than its own: a chunk's children are written before it, "
                        "with smaller ids");
      }
      if (!refer(child)) {
        refuse(dir, chunk_name(c.id) + " lists child " + std::to_string(child) +
                        ", which is neither a new chunk of this snapshot nor a chunk the store holds");
      }
    }
  }
  for (const value_roots& v : values) {
    for (std::uint64_t root : v.roots) {
      if (!refer(root)) {
        refuse(dir, "value \"" + std::string(v.key) + "\" refers to " + chunk_name(root) +
                        ", which is neither a new chunk of this snapshot nor a chunk the store holds");
      }
    }
  }
  for (std::size_t i = 0; i < out.links.size(); ++i) {
    if (!referred[i]) {
      refuse(dir, chunk_name(out.links[i].id) +
                      " is new, but nothing in the snapshot refers to it (no value's chunk_roots, no other new "
                      "chunk's children)");
    }
  }
  return out;
}

}  // namespace instadump::storage

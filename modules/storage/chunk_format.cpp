// Writing and parsing chunks (see chunk_format.h).
#include "storage/chunk_format.h"

#include <bit>
#include <cstring>

#include "common/errors.h"
#include "storage/checksum.h"

namespace instadump::storage {
namespace {

static_assert(std::endian::native == std::endian::little, "chunks are little-endian; so are the child id views");

template <typename T>
T load(const std::byte* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename T>
void store(std::byte* p, T v) noexcept {
  std::memcpy(p, &v, sizeof v);
}

}  // namespace

void write_chunk_header(std::span<std::byte> out, std::uint64_t id, const schema_identity& schema,
                        std::uint64_t node_type, std::span<const std::uint64_t> children) noexcept {
  std::byte* p = out.data();
  store<std::uint64_t>(p, 0);  // the checksum: seal_chunk
  store<std::uint64_t>(p + 8, id);
  store<std::uint64_t>(p + 16, schema.fingerprint);
  store<std::uint32_t>(p + 24, schema.version);
  store<std::uint32_t>(p + 28, static_cast<std::uint32_t>(children.size()));
  store<std::uint64_t>(p + 32, node_type);
  if (!children.empty()) std::memcpy(p + kChunkHeaderBytes, children.data(), children.size_bytes());
}

std::span<std::byte> chunk_payload(std::span<std::byte> chunk) noexcept {
  const std::uint32_t n = load<std::uint32_t>(chunk.data() + 28);
  return chunk.subspan(chunk_bytes(n, 0));
}

void seal_chunk(std::span<std::byte> chunk) noexcept {
  store<std::uint64_t>(chunk.data(), checksum_of(chunk.subspan(8)));
}

std::vector<std::byte> encode_chunk(std::uint64_t id, const schema_identity& schema, std::uint64_t node_type,
                                    std::span<const std::uint64_t> children, kj::ArrayPtr<const capnp::word> payload) {
  std::vector<std::byte> bytes(chunk_bytes(children.size(), payload.size()));
  write_chunk_header(bytes, id, schema, node_type, children);
  const std::span<std::byte> out = chunk_payload(bytes);
  if (!out.empty()) std::memcpy(out.data(), payload.begin(), out.size());
  seal_chunk(bytes);
  return bytes;
}

namespace {

bool whole_words(std::span<const std::byte> bytes, std::string& why) {
  if (bytes.size() >= kChunkHeaderBytes && bytes.size() % 8 == 0) return true;
  why = "is " + std::to_string(bytes.size()) + " bytes long; a chunk is a 40-byte header and whole 8-byte words";
  return false;
}

}  // namespace

bool verify_chunk(std::span<const std::byte> bytes, std::uint64_t expected_id, chunk_view& v, std::string& why) {
  if (!whole_words(bytes, why)) return false;
  const std::byte* p = bytes.data();
  const std::uint64_t sum = checksum_of(bytes.subspan(8));
  if (sum != load<std::uint64_t>(p)) {
    why = "has checksum " + std::to_string(sum) + ", but its header says " + std::to_string(load<std::uint64_t>(p));
    return false;
  }
  return read_chunk_layout(bytes, expected_id, v, why);
}

bool read_chunk_layout(std::span<const std::byte> bytes, std::uint64_t expected_id, chunk_view& v,
                       std::string& why) {
  if (!whole_words(bytes, why)) return false;
  const std::byte* p = bytes.data();
  v.id = load<std::uint64_t>(p + 8);
  if (v.id != expected_id) {
    why = "says it is chunk " + std::to_string(v.id);
    return false;
  }
  v.schema.fingerprint = load<std::uint64_t>(p + 16);
  v.schema.version = load<std::uint32_t>(p + 24);
  const std::uint64_t n = load<std::uint32_t>(p + 28);
  v.node_type = load<std::uint64_t>(p + 32);
  if (n > (bytes.size() - kChunkHeaderBytes) / 8) {
    why = "lists " + std::to_string(n) + " children, more than its " + std::to_string(bytes.size()) + " bytes hold";
    return false;
  }
  v.children = {reinterpret_cast<const std::uint64_t*>(p + kChunkHeaderBytes), static_cast<std::size_t>(n)};
  const std::size_t payload_at = chunk_bytes(n, 0);
  v.payload = kj::arrayPtr(reinterpret_cast<const capnp::word*>(p + payload_at), (bytes.size() - payload_at) / 8);
  return true;
}

chunk_view parse_chunk(std::span<const std::byte> bytes, std::uint64_t expected_id, const std::string& where) {
  if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(std::uint64_t) != 0) {
    throw storage_error("instadump: chunk " + std::to_string(expected_id) + " (" + where +
                        ") was handed to parse_chunk at an address that is not 8-byte aligned (a bug in Instadump)");
  }
  chunk_view v;
  std::string why;
  if (!verify_chunk(bytes, expected_id, v, why)) {
    throw corrupt_data("instadump: chunk " + std::to_string(expected_id) + " (" + where + ") " + why +
                       "; the data is damaged: load an older snapshot");
  }
  return v;
}

bool read_chunk_header(std::span<const std::byte> bytes, chunk_header& out) {
  if (bytes.size() < kChunkHeaderBytes || bytes.size() % 8 != 0) return false;
  const std::uint64_t n = load<std::uint32_t>(bytes.data() + 28);
  if (n > (bytes.size() - kChunkHeaderBytes) / 8) return false;
  out.id = load<std::uint64_t>(bytes.data() + 8);
  out.children.resize(n);
  if (n != 0) std::memcpy(out.children.data(), bytes.data() + kChunkHeaderBytes, n * 8);
  return true;
}

}  // namespace instadump::storage

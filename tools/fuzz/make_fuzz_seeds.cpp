// Writes the seed corpus of fuzz_snapshot_decode into a directory: valid
// manifests (empty, one entry, several entries with long keys), a meta record,
// and a truncated manifest. Usage: make_fuzz_seeds <dir>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "storage/manifest_codec.h"

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
  return 0;
}

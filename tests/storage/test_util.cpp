// Helpers shared by the storage tests (see test_util.h).
#include "test_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <set>
#include <string_view>

namespace storage_test {

scratch_dir::scratch_dir() {
  std::string templ = (std::filesystem::temp_directory_path() / "instadump-storage-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = templ;
}

scratch_dir::~scratch_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<std::byte> pattern(std::size_t size, std::uint64_t seed) {
  std::vector<std::byte> bytes(size);
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (std::size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    bytes[i] = static_cast<std::byte>(x & 0xff);
  }
  return bytes;
}

namespace {

// new_value::key is a view that must outlive the write; the names of the
// values made here are kept for the whole test run (tests use few).
std::string_view kept_name(std::string_view key) {
  static std::mutex mu;
  static std::set<std::string, std::less<>> names;
  std::lock_guard<std::mutex> lock(mu);
  return *names.emplace(key).first;  // the one kept already, if any
}

}  // namespace

instadump::storage::new_value value_of(std::string_view key, std::vector<std::byte> bytes,
                                       instadump::storage::schema_identity schema) {
  instadump::storage::new_value v;
  v.key = kept_name(key);
  v.schema = schema;
  v.size_bytes = bytes.size();
  v.fill = [b = std::move(bytes)](std::span<std::byte> out) {
    if (!b.empty()) std::memcpy(out.data(), b.data(), b.size());
  };
  return v;
}

std::map<std::string, std::vector<std::byte>> read_all(const instadump::storage::snapshot_store& store,
                                                       std::uint64_t id) {
  std::map<std::string, std::vector<std::byte>> out;
  store.read_snapshot(id, [&](const instadump::storage::entry_info& e, kj::ArrayPtr<const capnp::word> words) {
    const auto bytes = words.asBytes();
    auto& dst = out[e.key];
    dst.resize(bytes.size());
    if (bytes.size() != 0) std::memcpy(dst.data(), bytes.begin(), bytes.size());
  });
  return out;
}

std::set<std::uint64_t> referenced_blobs(const instadump::storage::snapshot_store& store) {
  std::set<std::uint64_t> blobs;
  for (const instadump::storage::snapshot_info& s : store.list_snapshots()) {
    for (const instadump::storage::entry_info& e : s.entries) {
      if (e.size_bytes != 0) blobs.insert(e.blob_id);
    }
  }
  return blobs;
}

int run_in_child(const std::function<bool()>& body) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int code = 2;
    try {
      code = body() ? 0 : 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: exception: %s\n", e.what());
    } catch (...) {
    }
    std::fflush(nullptr);
    ::_exit(code);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

values_t one_value(const char* key, std::size_t size, std::uint64_t seed) {
  values_t values;
  values.push_back(value_of(key, pattern(size, seed)));
  return values;
}

}  // namespace storage_test

// Helpers shared by the storage tests (see test_util.h).
#include "test_util.h"

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <set>
#include <string_view>

#include "storage/manifest_codec.h"

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

std::uint32_t stored_format(const std::filesystem::path& dir) {
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == 0);
  mdb_env_set_maxdbs(env, 8);
  REQUIRE(mdb_env_open(env, dir.c_str(), MDB_RDONLY, 0600) == 0);
  MDB_txn* txn = nullptr;
  REQUIRE(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) == 0);
  MDB_dbi meta;
  REQUIRE(mdb_dbi_open(txn, "meta", 0, &meta) == 0);
  MDB_val k{5, const_cast<char*>("store")}, v;
  REQUIRE(mdb_get(txn, meta, &k, &v) == 0);
  const auto format = instadump::storage::decode_store_meta(
                          {static_cast<const std::byte*>(v.mv_data), v.mv_size}, "test")
                          .format_version;
  mdb_txn_abort(txn);
  mdb_env_close(env);
  return format;
}

void tamper(const std::filesystem::path& dir,
            const std::function<void(MDB_txn*, const std::function<MDB_dbi(const char*)>&)>& f) {
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == 0);
  REQUIRE(mdb_env_set_maxdbs(env, 8) == 0);
  REQUIRE(mdb_env_open(env, dir.c_str(), 0, 0600) == 0);
  MDB_txn* txn = nullptr;
  REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
  f(txn, [&](const char* name) {
    MDB_dbi dbi = 0;
    REQUIRE(mdb_dbi_open(txn, name, 0, &dbi) == 0);
    return dbi;
  });
  REQUIRE(mdb_txn_commit(txn) == 0);
  mdb_env_close(env);
}

MDB_val be_key(std::uint64_t id, unsigned char (&buf)[8]) {
  for (int i = 7; i >= 0; --i, id >>= 8) buf[i] = static_cast<unsigned char>(id);
  return MDB_val{8, buf};
}

pid_t start_child(const std::function<bool()>& body) {
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
  return pid;
}

int run_in_child(const std::function<bool()>& body) {
  const pid_t pid = start_child(body);
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

// lock_reader_cache (reader_cache.h): a reader's cache directory, locked and
// emptied of the previous reader's store.
#include "replication/reader_cache.h"

#include <sys/stat.h>

#include <string>
#include <system_error>

#include "common/errors.h"

namespace instadump::replication {

std::filesystem::path reader_cache_store(const std::filesystem::path& dir) { return dir / "store"; }

std::unique_ptr<storage::directory_lock> lock_reader_cache(const std::filesystem::path& dir) {
  const std::string where = "instadump::setup(\"" + dir.string() + "\", a reader of a replicated store)";
  std::error_code ec;
  if (std::filesystem::create_directories(dir, ec)) ::chmod(dir.c_str(), 0700);  // (as a store's directory)
  if (ec) throw open_failed(where + ": cannot create the cache directory: " + ec.message());
  auto lock = std::make_unique<storage::directory_lock>(dir);
  std::string foreign;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name != "instadump.lock" && name != "store") foreign += (foreign.empty() ? "\"" : ", \"") + name + "\"";
  }
  if (ec) throw open_failed(where + ": cannot list the cache directory: " + ec.message());
  if (!foreign.empty()) {
    throw open_failed(where + ": the directory holds " + foreign + ", so it is not a reader's cache (a reader "
                      "keeps only instadump.lock and store/ there, and rebuilds store/ at every setup); pass a new "
                      "or empty directory");
  }
  std::filesystem::remove_all(reader_cache_store(dir), ec);
  if (ec) throw open_failed(where + ": cannot remove the previous cache in store/: " + ec.message());
  return lock;
}

}  // namespace instadump::replication

// Opening a store read-only for the tool (store_access.h).
#include "store_access.h"

#include <cstdio>
#include <ctime>
#include <system_error>

#include "cli_error.h"

namespace instadump::cli {

std::unique_ptr<storage::snapshot_store> open_read_only(const std::filesystem::path& dir) {
  std::error_code ec;
  const auto status = std::filesystem::status(dir, ec);
  if (!std::filesystem::exists(status)) {
    throw cli_error("no such directory: " + dir.string());
  }
  if (!std::filesystem::is_directory(status)) {
    throw cli_error(dir.string() + " is not a directory (give the state directory the application passes to setup())");
  }
  if (!std::filesystem::exists(dir / "data.mdb", ec)) {
    throw cli_error(dir.string() + " is not an Instadump store (it has no data.mdb)");
  }
  storage::store_options options;
  options.read_only = true;
  try {
    return storage::snapshot_store::open(dir, options);
  } catch (const error& e) {
    throw cli_error(e.what());
  }
}

storage::snapshot_info find_snapshot(const storage::snapshot_store& store, std::optional<std::uint64_t> id) {
  const std::string dir = store.directory().string();
  const std::vector<storage::snapshot_info> all = store.list_snapshots();  // newest first
  if (all.empty()) throw cli_error(dir + " holds no snapshot yet");
  if (!id) return all.front();
  std::string have;
  for (const storage::snapshot_info& info : all) {
    if (info.id == *id) return info;
    have += (have.empty() ? "" : ", ") + std::to_string(info.id);
  }
  throw cli_error("no snapshot " + std::to_string(*id) + " in " + dir + " (it has " + have + "; see `instadump ls " +
                  dir + "`)");
}

bool pruned_meanwhile(const storage::snapshot_store& store, std::uint64_t id) {
  for (std::uint64_t kept : store.snapshot_ids()) {
    if (kept == id) return false;
  }
  return true;
}

storage::snapshot_info read_chosen_snapshot(const storage::snapshot_store& store, std::optional<std::uint64_t> id,
                                            const std::function<void(const storage::snapshot_info&)>& chosen,
                                            const value_visitor& visit) {
  for (int attempt = 1;; ++attempt) {
    storage::snapshot_info info = find_snapshot(store, id);
    chosen(info);
    try {
      store.read_snapshot(info.id, visit);
      return info;
    } catch (const load_failed&) {
      if (id || attempt == 100 || !pruned_meanwhile(store, info.id)) throw;
    }
  }
}

std::string format_time(std::int64_t unix_nanos) {
  const std::time_t seconds = static_cast<std::time_t>(unix_nanos / 1'000'000'000);
  const int millis = static_cast<int>(unix_nanos % 1'000'000'000 / 1'000'000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
  return text;
}

}  // namespace instadump::cli

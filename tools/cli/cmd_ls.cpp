// `instadump ls DIR`: the snapshots, newest first.
#include <cstdio>
#include <map>
#include <set>
#include <string>

#include "commands.h"
#include "store_access.h"

namespace instadump::cli {

int run_ls(const std::filesystem::path& dir) {
  auto store = open_read_only(dir);
  const std::vector<storage::snapshot_info> snapshots = store->list_snapshots();
  std::printf("%-8s %-24s %7s %12s  %s\n", "ID", "CREATED (UTC)", "VALUES", "BYTES", "SCHEMA VERSIONS");
  for (const storage::snapshot_info& s : snapshots) {
    // Which schema versions the values were written with, and how many each.
    std::map<std::uint32_t, std::size_t> versions;
    for (const storage::entry_info& e : s.entries) ++versions[e.schema.version];
    std::string text;
    for (const auto& [version, count] : versions) {
      text += (text.empty() ? "" : " ") + ("v" + std::to_string(version)) + "x" + std::to_string(count);
    }
    std::printf("%-8llu %-24s %7zu %12llu  %s\n", static_cast<unsigned long long>(s.id),
                format_time(s.created_unix_nanos).c_str(), s.entries.size(),
                static_cast<unsigned long long>(s.total_bytes), text.c_str());
  }
  if (snapshots.empty()) std::printf("(no snapshots yet)\n");
  return 0;
}

}  // namespace instadump::cli

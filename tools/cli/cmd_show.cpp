// `instadump show` and `instadump export`: values of one snapshot, decoded
// with their stored schemas and written as they are decoded (text, or the
// lossless JSON document of docs/CLI.md).
#include <cstdio>
#include <set>
#include <string>

#include "cli_error.h"
#include "commands.h"
#include "json_emitter.h"
#include "output_buffer.h"
#include "progress.h"
#include "store_access.h"
#include "stored_value.h"
#include "text_emitter.h"

namespace instadump::cli {
namespace {

// Throws cli_error when a requested key is not in the snapshot.
void check_keys(const storage::snapshot_info& info, const std::vector<std::string>& keys, const std::string& dir) {
  std::set<std::string_view> have;
  for (const storage::entry_info& e : info.entries) have.insert(e.key);
  for (const std::string& key : keys) {
    if (have.count(key)) continue;
    std::string list;
    for (std::string_view k : have) list += (list.empty() ? "" : ", ") + std::string(k);
    throw cli_error("no value '" + key + "' in snapshot " + std::to_string(info.id) + " of " + dir + " (it has: " +
                    (list.empty() ? std::string("none") : list) + ")");
  }
}

}  // namespace

int run_show(const show_request& request) {
  auto store = open_read_only(request.dir);
  const std::set<std::string> wanted(request.keys.begin(), request.keys.end());
  schema_library schemas(*store);
  output_buffer out(stdout);
  json_emitter json(out);
  text_emitter text(out);
  value_emitter& emitter = request.json ? static_cast<value_emitter&>(json) : text;
  progress_meter progress(progress_meter::stderr_is_terminal());
  value_walker walker(emitter, &progress);

  storage::snapshot_info info;
  bool first = true;
  std::uint64_t bad_values = 0;
  std::string first_bad;
  auto json_header = [&] {
    out.put("{\"snapshot\":" + std::to_string(info.id) + ",\"created\":\"" + format_time(info.created_unix_nanos) +
            "\",\"values\":{\n");
  };
  auto visit = [&](const storage::entry_info& e, kj::ArrayPtr<const capnp::word> words,
                   const storage::chunk_source& chunks) {
    if (!wanted.empty() && !wanted.count(e.key)) return;
    progress.start(e.key);
    if (request.json) {
      if (first) {
        json_header();
      } else {
        out.put(",\n");
      }
      json_emitter::quote(out, e.key);
      out.put(':');
    } else {
      out.put(e.key);
      out.put(" = ");
    }
    first = false;
    const std::uint64_t before = walker.problems();
    walk_stored_value(e, words, chunks, schemas, walker);
    if (walker.problems() != before && bad_values++ == 0) first_bad = e.key;
    if (!request.json) out.put('\n');
    progress.finish();
  };
  // read_snapshot verifies the whole snapshot first: a damaged one is
  // refused before anything is printed.
  read_chosen_snapshot(
      *store, request.snapshot,
      [&](const storage::snapshot_info& chosen) {
        info = chosen;
        check_keys(info, request.keys, request.dir.string());
      },
      visit);
  if (request.json) {
    if (first) {
      json_header();
    }
    out.put("\n}}\n");
  }
  out.flush();
  if (bad_values > 0) {
    std::fprintf(stderr, "instadump: %llu value%s of snapshot %llu did not decode in full (first: %s: %s)\n",
                 static_cast<unsigned long long>(bad_values), bad_values == 1 ? "" : "s",
                 static_cast<unsigned long long>(info.id), first_bad.c_str(), walker.first_problem().c_str());
    return exit_problems;
  }
  return exit_ok;
}

}  // namespace instadump::cli

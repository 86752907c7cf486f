// `instadump`: the operators' tool for a state directory -- what is in it,
// is it healthy, what changed, and a copy -- without the program that wrote
// it (docs/CLI.md). This file is the command line (CLI11) and the one place
// errors become a line on stderr and an exit status.
#include <CLI/CLI.hpp>

#include <kj/exception.h>

#include <cstdio>
#include <exception>

#include "cli_error.h"
#include "commands.h"

namespace {

using namespace instadump::cli;

int fail(std::string message) {
  // The library's messages start with "instadump: " already.
  static constexpr std::string_view kPrefix = "instadump: ";
  if (message.starts_with(kPrefix)) message.erase(0, kPrefix.size());
  std::fflush(stdout);
  std::fprintf(stderr, "instadump: %s\n", message.c_str());
  return exit_failed;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"instadump: look inside an Instadump state directory (read-only; safe while the application runs)",
               "instadump"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "instadump 0.1.0 (store format 4)");
  app.footer("Exit status: 0 all is well; 1 problems found (verify; values that do not decode); 2 the command "
             "could not run.\nSee docs/CLI.md.");

  std::string dir;
  std::string dest;
  std::optional<std::uint64_t> snapshot;
  std::vector<std::string> keys;
  bool json = false;
  std::uint64_t from = 0;
  std::uint64_t to = 0;
  auto add_dir = [&](CLI::App* command) {
    command->add_option("DIR", dir, "the state directory (what the application passes to setup())")->required();
  };

  CLI::App* ls = app.add_subcommand("ls", "List the snapshots, newest first: id, time (UTC), values, bytes, "
                                          "schema versions");
  add_dir(ls);

  CLI::App* show = app.add_subcommand("show", "Print values of a snapshot, decoded with the schemas stored in it");
  add_dir(show);
  show->add_option("KEY", keys, "the values to print (default: all), e.g. shop::stock");
  show->add_option("--snapshot", snapshot, "the snapshot's id (default: the newest; see `ls`)");
  show->add_flag("--json", json, "lossless JSON instead of text (docs/CLI.md, \"JSON\")");

  CLI::App* exp = app.add_subcommand("export", "Write every value of a snapshot as one lossless JSON document");
  add_dir(exp);
  exp->add_option("--snapshot", snapshot, "the snapshot's id (default: the newest)");
  exp->add_flag("--json", json, "JSON (the only format; accepted for clarity)");

  CLI::App* verify = app.add_subcommand("verify", "Check every kept snapshot: checksums, chunks, that each value "
                                                  "decodes under its stored schema, and the journal");
  add_dir(verify);

  CLI::App* diff = app.add_subcommand("diff", "Which values changed between two snapshots and, for small ones, how");
  add_dir(diff);
  diff->add_option("ID1", from, "the older snapshot")->required();
  diff->add_option("ID2", to, "the newer snapshot")->required();

  CLI::App* stats = app.add_subcommand("stats", "Sizes: the LMDB environment (map, pages used, free pages), the "
                                                "journal, each value");
  add_dir(stats);

  CLI::App* backup = app.add_subcommand("backup", "Copy a (live) store, compacted, with the snapshots its journal "
                                                  "holds, into DEST: a store setup(DEST) loads");
  add_dir(backup);
  backup->add_option("DEST", dest, "a directory that does not exist yet (or is empty)")->required();

  std::string url;
  std::string store;
  CLI::App* restore = app.add_subcommand("restore", "Rebuild a local store in DIR from the copy replicated to "
                                                    "PostgreSQL (writes only DIR; safe while the writer runs)");
  restore->add_option("URL", url, "the PostgreSQL database (libpq URI or connection string)")->required();
  restore->add_option("STORE", store, "the store's name there (setup_options::replicate.store)")->required();
  add_dir(restore);
  restore->add_option("--snapshot", snapshot, "the replicated snapshot's number (default: the newest; see "
                                              "`replication`)");

  std::optional<std::filesystem::path> local_dir;
  CLI::App* replication = app.add_subcommand(
      "replication", "What PostgreSQL holds for a replicated store (newest snapshot, snapshots kept, the writer's "
                     "lease) and how far the local store in DIR is behind it");
  replication->add_option("URL", url, "the PostgreSQL database (libpq URI or connection string)")->required();
  replication->add_option("STORE", store, "the store's name there (setup_options::replicate.store)")->required();
  replication->add_option("DIR", local_dir, "a writer's state directory (optional)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::fprintf(stderr, "instadump: %s (see instadump %s--help)\n", e.what(),
                 app.get_subcommands().empty() ? "" : (app.get_subcommands().front()->get_name() + " ").c_str());
    return exit_failed;
  }

  try {
    if (*ls) return run_ls(dir);
    if (*show) return run_show({dir, snapshot, keys, json});
    if (*exp) return run_show({dir, snapshot, {}, true});
    if (*verify) return run_verify(dir);
    if (*diff) return run_diff(dir, from, to);
    if (*stats) return run_stats(dir);
    if (*backup) return run_backup(dir, dest);
    if (*restore) return run_restore({url, store, dir, snapshot});
    if (*replication) return run_replication({url, store, local_dir});
  } catch (const cli_error& e) {
    return fail(e.what());
  } catch (const instadump::error& e) {
    return fail(e.what());
  } catch (const kj::Exception& e) {
    return fail(e.getDescription().cStr());
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  return exit_failed;
}

// The replicated copy in PostgreSQL as the tool's commands see it
// (restore, replication): the store must be one the database holds.
#pragma once

#include <string>
#include <vector>

#include "cli_error.h"
#include "replication/copy_overview.h"

namespace instadump::cli {

// Throws cli_error, listing the stores the database holds, when it holds
// no store `store`.
inline void require_known_store(const replication::copy_overview& o, const std::string& store) {
  if (o.known) return;
  std::string names;
  for (const std::string& n : o.stores) names += (names.empty() ? "" : ", ") + n;
  throw cli_error("the database holds no replicated store \"" + store + "\" (" +
                  (o.has_tables ? "it holds: " + (names.empty() ? std::string("none") : names)
                                : std::string("it has no Instadump tables")) +
                  "); check STORE, which is setup_options::replicate.store");
}

}  // namespace instadump::cli

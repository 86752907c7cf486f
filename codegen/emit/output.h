// Writing the tool's outputs: only when their content changed (so an
// unchanged schema does not trigger capnp compile and a rebuild), and the
// Makefile-style depfile that lets the build re-run the tool when a scanned
// source or any header it includes changes.
#pragma once

#include <set>
#include <string>

namespace instadump_codegen {

// Writes `content` to `path` unless the file already holds exactly that;
// creates parent directories. Returns an error message, or "" on success.
std::string write_if_changed(const std::string& path, const std::string& content);

// Writes "<target>: <dep> <dep> ..." to `path` (write_if_changed), with
// spaces and '$'/'#' escaped as Ninja and Make expect.
std::string write_depfile(const std::string& path, const std::string& target, const std::set<std::string>& deps);

}  // namespace instadump_codegen

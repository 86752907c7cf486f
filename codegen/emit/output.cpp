// Output files and the depfile (see output.h).
#include "emit/output.h"

#include <fstream>
#include <sstream>

#include <unistd.h>

#include <llvm/Support/FileSystem.h>
#include <llvm/Support/Path.h>

namespace instadump_codegen {

std::string write_if_changed(const std::string& path, const std::string& content) {
  {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::ostringstream old;
      old << in.rdbuf();
      if (old.str() == content) return {};
    }
  }
  llvm::StringRef dir = llvm::sys::path::parent_path(path);
  if (!dir.empty()) {
    if (std::error_code ec = llvm::sys::fs::create_directories(dir)) {
      return "cannot create directory '" + dir.str() + "': " + ec.message();
    }
  }
  // Write a temporary beside the file and rename it over, so a reader (or an
  // interrupted build) never sees half a file.
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out.flush()) return "cannot write '" + tmp + "'";
  }
  if (std::error_code ec = llvm::sys::fs::rename(tmp, path)) {
    return "cannot rename '" + tmp + "' to '" + path + "': " + ec.message();
  }
  return {};
}

namespace {
std::string escape(const std::string& p) {
  std::string out;
  for (char c : p) {
    if (c == ' ' || c == '#' || c == '\\') out += '\\';
    if (c == '$') out += '$';
    out += c;
  }
  return out;
}
}  // namespace

std::string write_depfile(const std::string& path, const std::string& target, const std::set<std::string>& deps) {
  std::string text = escape(target) + ":";
  for (const std::string& d : deps) text += " \\\n  " + escape(d);
  return write_if_changed(path, text + "\n");
}

}  // namespace instadump_codegen

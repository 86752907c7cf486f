// Parsing stored schema texts with Cap'n Proto's compiler (stored_schemas.h).
#include "stored_schemas.h"

#include <kj/exception.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace instadump::cli {
namespace {

// A schema file held in memory: its text, no imports (stored schemas are
// self-contained), and errors collected instead of thrown, so that a
// damaged text is reported, not fatal.
class text_schema_file final : public capnp::SchemaFile {
 public:
  text_schema_file(std::string name, std::string text, std::shared_ptr<std::string> errors)
      : name_(std::move(name)), text_(std::move(text)), errors_(std::move(errors)) {}

  kj::StringPtr getDisplayName() const override { return kj::StringPtr(name_.c_str()); }
  kj::Array<const char> readContent() const override {
    auto out = kj::heapArray<char>(text_.size());
    if (!text_.empty()) std::memcpy(out.begin(), text_.data(), text_.size());
    return out;
  }
  kj::Maybe<kj::Own<capnp::SchemaFile>> import(kj::StringPtr) const override { return nullptr; }
  bool operator==(const capnp::SchemaFile& other) const override { return this == &other; }
  bool operator!=(const capnp::SchemaFile& other) const override { return this != &other; }
  size_t hashCode() const override { return reinterpret_cast<size_t>(this); }
  void reportError(SourcePos start, SourcePos, kj::StringPtr message) const override {
    if (!errors_->empty()) *errors_ += "; ";
    *errors_ += "line " + std::to_string(start.line + 1) + ": " + message.cStr();
  }

 private:
  std::string name_;
  std::string text_;
  std::shared_ptr<std::string> errors_;  // shared: the parser may report while compiling lazily
};

// The name of the first struct declared at the top of `text` (the root).
std::string first_struct_name(std::string_view text) {
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    if (line.starts_with("struct ")) {
      line.remove_prefix(7);
      std::size_t stop = 0;
      while (stop < line.size() && (std::isalnum(static_cast<unsigned char>(line[stop])) || line[stop] == '_')) ++stop;
      return std::string(line.substr(0, stop));
    }
    at = end + 1;
  }
  return {};
}

}  // namespace

std::string hex_fingerprint(std::uint64_t fingerprint) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%016llx", static_cast<unsigned long long>(fingerprint));
  return text;
}

void schema_library::add(std::uint64_t fingerprint, std::span<const std::byte> text) {
  extra_.try_emplace(fingerprint, text.begin(), text.end());
}

const stored_schema& schema_library::get(std::uint64_t fingerprint) {
  if (auto it = parsed_.find(fingerprint); it != parsed_.end()) return it->second;
  stored_schema& out = parsed_[fingerprint];
  const std::string name = "schema " + hex_fingerprint(fingerprint);
  std::optional<std::vector<std::byte>> bytes = store_.get_schema(fingerprint);
  if (auto it = extra_.find(fingerprint); !bytes && it != extra_.end()) bytes = it->second;
  if (!bytes) {
    out.problem = "no schema is stored for fingerprint " + hex_fingerprint(fingerprint) +
                  " (a state whose codec was written by hand stores none)";
    return out;
  }
  out.stored = true;
  std::string text(reinterpret_cast<const char*>(bytes->data()), bytes->size());
  const std::string root = first_struct_name(text);
  auto errors = std::make_shared<std::string>();
  auto file = kj::heap<text_schema_file>(name + ".capnp", std::move(text), errors);
  auto& parser = parsers_[fingerprint];
  parser = std::make_unique<capnp::SchemaParser>();
  try {
    capnp::ParsedSchema parsed = parser->parseFile(kj::mv(file));
    if (root.empty()) {
      out.problem = name + " declares no struct";
    } else {
      capnp::StructSchema schema = parsed.getNested(kj::StringPtr(root.c_str())).asStruct();
      if (errors->empty()) out.root = schema;
    }
  } catch (const kj::Exception& e) {
    if (errors->empty()) *errors = e.getDescription().cStr();
  }
  if (!out.root && out.problem.empty()) out.problem = name + " does not parse: " + *errors;
  return out;
}

}  // namespace instadump::cli

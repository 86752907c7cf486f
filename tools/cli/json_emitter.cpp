// json_emitter.h: the lossless JSON representation, written as it comes.
#include "json_emitter.h"

#include <cmath>
#include <cstdio>

#include "number_text.h"

namespace instadump::cli {
namespace {

constexpr std::uint64_t kExactInDouble = std::uint64_t{1} << 53;

}  // namespace

void json_emitter::quote(output_buffer& out, std::string_view s) {
  out.put('"');
  std::size_t plain = 0;  // start of the run not yet written
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.put(s.substr(plain, i - plain));
    plain = i + 1;
    switch (c) {
      case '"': out.put("\\\""); break;
      case '\\': out.put("\\\\"); break;
      case '\n': out.put("\\n"); break;
      case '\t': out.put("\\t"); break;
      case '\r': out.put("\\r"); break;
      default: {
        char escape[8];
        std::snprintf(escape, sizeof escape, "\\u%04x", c);
        out.put(escape);
      }
    }
  }
  out.put(s.substr(plain));
  out.put('"');
}

void json_emitter::separate() {
  if (open_.empty()) return;
  level& l = open_.back();
  if (l.any) out_.put(',');
  if (l.lines) out_.put("\n  ");
  l.any = true;
}

void json_emitter::begin_struct() {
  out_.put('{');
  open_.push_back({});
}

void json_emitter::field(std::string_view name) {
  separate();
  quote(out_, name);
  out_.put(':');
}

void json_emitter::end_struct() {
  open_.pop_back();
  out_.put('}');
}

void json_emitter::begin_list(std::size_t, bool composite) {
  out_.put('[');
  // The elements of a state's collection go one per line (a diff of two
  // exports then shows which changed); nested lists stay on their line.
  open_.push_back({false, composite && open_.empty()});
}

void json_emitter::element() { separate(); }

void json_emitter::end_list() {
  if (open_.back().lines && open_.back().any) out_.put('\n');
  open_.pop_back();
  out_.put(']');
}

void json_emitter::void_value() { out_.put("null"); }

void json_emitter::boolean(bool v) { out_.put(v ? "true" : "false"); }

void json_emitter::signed_integer(std::int64_t v) {
  const bool exact = v >= -static_cast<std::int64_t>(kExactInDouble) && v <= static_cast<std::int64_t>(kExactInDouble);
  if (!exact) out_.put('"');
  out_.put(std::to_string(v));
  if (!exact) out_.put('"');
}

void json_emitter::unsigned_integer(std::uint64_t v) {
  const bool exact = v <= kExactInDouble;
  if (!exact) out_.put('"');
  out_.put(std::to_string(v));
  if (!exact) out_.put('"');
}

void json_emitter::floating(double v, bool single) {
  if (std::isnan(v)) {
    out_.put("\"NaN\"");
  } else if (std::isinf(v)) {
    out_.put(v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  } else {
    out_.put(shortest_decimal(v, single));
  }
}

void json_emitter::text(std::string_view v) {
  if (valid_utf8(v)) {
    quote(out_, v);
    return;
  }
  out_.put("{\"textBase64\":\"");
  out_.put(base64(std::as_bytes(std::span(v.data(), v.size()))));
  out_.put("\"}");
}

void json_emitter::data(std::span<const std::byte> v) {
  out_.put('"');
  out_.put(base64(v));
  out_.put('"');
}

void json_emitter::enumerant(std::string_view name, std::uint16_t raw) {
  if (name.empty()) {
    out_.put(std::to_string(raw));
  } else {
    quote(out_, name);
  }
}

void json_emitter::problem(std::string_view what) {
  out_.put("{\"$problem\":");
  quote(out_, valid_utf8(what) ? what : std::string_view("(a message that is not UTF-8)"));
  out_.put('}');
}

}  // namespace instadump::cli

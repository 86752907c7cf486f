// text_emitter.h: the readable text of `show`.
#include "text_emitter.h"

#include <cmath>
#include <cstdio>

#include "number_text.h"

namespace instadump::cli {

void text_emitter::separate() {
  if (open_.empty()) return;
  level& l = open_.back();
  if (l.any) out_.put(l.lines ? "," : ", ");
  if (l.lines) out_.put("\n  ");
  l.any = true;
}

void text_emitter::begin_struct() {
  out_.put('(');
  open_.push_back({});
}

void text_emitter::field(std::string_view name) {
  separate();
  out_.put(name);
  out_.put(" = ");
}

void text_emitter::end_struct() {
  open_.pop_back();
  out_.put(')');
}

void text_emitter::begin_list(std::size_t, bool composite) {
  out_.put('[');
  open_.push_back({false, composite && open_.empty() && !one_line_});
}

void text_emitter::element() { separate(); }

void text_emitter::end_list() {
  if (open_.back().lines && open_.back().any) out_.put('\n');
  open_.pop_back();
  out_.put(']');
}

void text_emitter::void_value() { out_.put("void"); }

void text_emitter::boolean(bool v) { out_.put(v ? "true" : "false"); }

void text_emitter::signed_integer(std::int64_t v) { out_.put(std::to_string(v)); }

void text_emitter::unsigned_integer(std::uint64_t v) { out_.put(std::to_string(v)); }

void text_emitter::floating(double v, bool single) {
  if (std::isnan(v)) {
    out_.put("nan");
  } else if (std::isinf(v)) {
    out_.put(v > 0 ? "inf" : "-inf");
  } else {
    out_.put(shortest_decimal(v, single));
  }
}

void text_emitter::text(std::string_view v) {
  out_.put('"');
  const bool utf8 = valid_utf8(v);
  std::size_t plain = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c >= 0x20 && c != 0x7f && c != '"' && c != '\\' && (utf8 || c < 0x80)) continue;
    out_.put(v.substr(plain, i - plain));
    plain = i + 1;
    switch (c) {
      case '"': out_.put("\\\""); break;
      case '\\': out_.put("\\\\"); break;
      case '\n': out_.put("\\n"); break;
      case '\t': out_.put("\\t"); break;
      case 0: out_.put("\\0"); break;
      default: {
        char escape[8];
        std::snprintf(escape, sizeof escape, "\\x%02x", c);
        out_.put(escape);
      }
    }
  }
  out_.put(v.substr(plain));
  out_.put('"');
}

void text_emitter::data(std::span<const std::byte> v) {
  out_.put("0x\"");
  char hex[4];
  for (std::size_t i = 0; i < v.size(); ++i) {
    std::snprintf(hex, sizeof hex, i == 0 ? "%02x" : " %02x", std::to_integer<unsigned>(v[i]));
    out_.put(hex);
  }
  out_.put('"');
}

void text_emitter::enumerant(std::string_view name, std::uint16_t raw) {
  if (name.empty()) {
    out_.put("(enumerant " + std::to_string(raw) + ", unknown to the stored schema)");
  } else {
    out_.put(name);
  }
}

void text_emitter::problem(std::string_view what) {
  out_.put("<! ");
  out_.put(what);
  out_.put(" !>");
}

}  // namespace instadump::cli

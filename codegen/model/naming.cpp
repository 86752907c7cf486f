// Cap'n Proto naming rules and the deterministic namer (see naming.h).
#include "model/naming.h"

#include <cctype>
#include <set>
#include <stdexcept>

namespace instadump_codegen {
namespace {

// "shop::stock_item" -> "ShopStockItem": a qualified C++ name as one Cap'n
// Proto type name.
std::string upper_camel_path(std::string_view q) {
  std::string out;
  for (std::size_t i = 0; i <= q.size();) {
    std::size_t j = q.find("::", i);
    if (j == std::string_view::npos) j = q.size();
    out += upper_camel(q.substr(i, j - i));
    i = j + 2;
  }
  return out;
}

bool all_upper(std::string_view s) {
  bool any = false;
  for (char c : s) {
    if (std::islower(static_cast<unsigned char>(c))) return false;
    any = any || std::isupper(static_cast<unsigned char>(c));
  }
  return any;
}

std::string camel(std::string_view name, bool upper_first) {
  std::string out;
  std::size_t i = 0;
  while (i < name.size()) {
    std::size_t j = name.find('_', i);
    if (j == std::string_view::npos) j = name.size();
    std::string part(name.substr(i, j - i));
    i = j + 1;
    if (part.empty()) continue;
    if (all_upper(part)) {
      for (char& c : part) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    bool first = out.empty();
    part[0] = static_cast<char>((first && !upper_first) ? std::tolower(static_cast<unsigned char>(part[0]))
                                                        : std::toupper(static_cast<unsigned char>(part[0])));
    out += part;
  }
  std::string clean;
  for (char c : out) {
    if (std::isalnum(static_cast<unsigned char>(c))) clean += c;
  }
  if (clean.empty() || std::isdigit(static_cast<unsigned char>(clean[0]))) clean = (upper_first ? "T" : "m") + clean;
  return clean;
}

class namer {
 public:
  explicit namer(model& m) : m_(m) {}

  void run() {
    for (auto& s : m_.states) {
      s.root_name = unique_name(upper_camel_path(s.key) + "State", used_);
      visit(s.type);
    }
  }

 private:
  // A readable name fragment for a type, also used to build composite names.
  std::string fragment(const std::string& key) {
    type_node& t = m_.types.at(key);
    switch (t.kind) {
      case type_kind::boolean:
      case type_kind::integer:
      case type_kind::floating:
      case type_kind::text:
      case type_kind::data: return schema_type(m_, key);  // "Bool", "Int32", "Float64", "Text", "Data"
      case type_kind::monostate: return "Monostate";
      case type_kind::duration: return "Duration" + fragment(t.element);
      case type_kind::time_point: return "TimePoint" + fragment(t.element);
      case type_kind::sequence: return "List" + fragment(t.element);
      case type_kind::array: return "Array" + fragment(t.element);
      case type_kind::map: return "Map" + fragment(t.key) + fragment(t.value);
      case type_kind::optional: return "Optional" + fragment(t.element);
      case type_kind::tuple:
      case type_kind::variant: {
        std::string s = t.kind == type_kind::tuple ? (t.container == "pair" ? "Pair" : "Tuple") : "Variant";
        for (auto& mem : t.members) s += fragment(mem.type);
        return s;
      }
      case type_kind::enumeration:
      case type_kind::record: {
        visit(key);
        return t.schema_name;
      }
    }
    return "T";
  }

  void visit(const std::string& key) {
    if (!visited_.insert(key).second) return;
    type_node& t = m_.types.at(key);
    switch (t.kind) {
      case type_kind::enumeration: {
        std::string base = upper_camel_path(t.qualified);
        t.schema_name = unique_name(base, used_);
        std::set<std::string> names;
        for (std::size_t i = 0; i < t.enumerators.size(); ++i) {
          t.enumerators[i].schema_name = unique_name(lower_camel(t.enumerators[i].cpp_name), names);
          t.enumerators[i].ordinal = static_cast<unsigned>(i);
        }
        return;
      }
      case type_kind::record: {
        std::string base = upper_camel_path(t.qualified);
        for (auto& a : t.template_args) base += a;
        t.schema_name = unique_name(base, used_);
        std::set<std::string> names;
        for (std::size_t i = 0; i < t.members.size(); ++i) {
          t.members[i].schema_name = unique_name(lower_camel(t.members[i].cpp_name), names);
          t.members[i].ordinal = static_cast<unsigned>(i);
        }
        for (auto& mem : t.members) visit(mem.type);
        return;
      }
      case type_kind::optional:
        t.schema_name = unique_name(fragment(key), used_);
        visit(t.element);
        return;
      case type_kind::map:
        t.schema_name = unique_name(fragment(key) + "Entry", used_);
        visit(t.key);
        visit(t.value);
        return;
      case type_kind::tuple:
      case type_kind::variant: {
        t.schema_name = unique_name(fragment(key), used_);
        std::set<std::string> names;
        for (std::size_t i = 0; i < t.members.size(); ++i) {
          auto& mem = t.members[i];
          std::string n;
          if (t.kind == type_kind::variant) n = lower_camel(fragment(mem.type));
          else if (t.container == "pair") n = i == 0 ? "first" : "second";
          else n = "element" + std::to_string(i);
          mem.schema_name = unique_name(n, names);
          mem.ordinal = static_cast<unsigned>(i);
        }
        for (auto& mem : t.members) visit(mem.type);
        return;
      }
      case type_kind::sequence:
      case type_kind::array:
      case type_kind::duration:
      case type_kind::time_point:
        visit(t.element);
        return;
      default:
        return;
    }
  }

  model& m_;
  std::set<std::string> used_{"Void", "Bool", "Text", "Data", "List", "AnyPointer", "Int8", "Int16", "Int32",
                              "Int64", "UInt8", "UInt16", "UInt32", "UInt64", "Float32", "Float64"};
  std::set<std::string> visited_;
};

}  // namespace

std::string lower_camel(std::string_view cpp_name) { return camel(cpp_name, false); }
std::string upper_camel(std::string_view cpp_name) { return camel(cpp_name, true); }

std::string capnp_upper(std::string_view name) {
  // Mirrors capnp's C++ generator (toUpperCase in capnpc-c++.c++).
  std::string out;
  for (char c : name) {
    if (c >= 'a' && c <= 'z') {
      out += static_cast<char>(c - 'a' + 'A');
    } else if (!out.empty() && c >= 'A' && c <= 'Z') {
      out += '_';
      out += c;
    } else {
      out += c;
    }
  }
  return out;
}

std::string capnp_title(std::string_view name) {
  std::string out(name);
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 'a' + 'A');
  return out;
}

void assign_schema_names(model& m) { namer(m).run(); }

std::string unique_name(const std::string& name, std::set<std::string>& used) {
  std::string candidate = name;
  for (int n = 2; !used.insert(candidate).second; ++n) candidate = name + std::to_string(n);
  return candidate;
}

std::string schema_type(const model& m, const std::string& key) {
  const type_node& t = m.types.at(key);
  switch (t.kind) {
    case type_kind::boolean: return "Bool";
    case type_kind::integer: return (t.is_signed ? "Int" : "UInt") + std::to_string(t.bits);
    case type_kind::floating: return "Float" + std::to_string(t.bits);
    case type_kind::text: return "Text";
    case type_kind::data: return "Data";
    case type_kind::monostate: return "Void";
    case type_kind::duration:
    case type_kind::time_point: return schema_type(m, t.element);
    case type_kind::sequence:
    case type_kind::array: return "List(" + schema_type(m, t.element) + ")";
    case type_kind::map: return "List(" + t.schema_name + ")";
    case type_kind::enumeration:
    case type_kind::record:
    case type_kind::optional:
    case type_kind::tuple:
    case type_kind::variant: return t.schema_name;
  }
  throw std::logic_error("schema_type: unknown kind");
}

}  // namespace instadump_codegen

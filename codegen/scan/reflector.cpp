// Recursive reflection of state types into the model (see reflector.h).
//
// The rules here are the documented set of supported types (README, "Supported types");
// every rejection names the path from the state to the offending member and
// says what to use instead.
#include "scan/reflector.h"

#include <clang/AST/DeclCXX.h>
#include <clang/AST/DeclTemplate.h>
#include <llvm/Support/raw_ostream.h>

#include <optional>

#include "diagnostics.h"
#include "scan/attribute.h"
#include "scan/spelling.h"

namespace instadump_codegen {

std::string reflector::fail(clang::SourceLocation where, const std::string& path, const std::string& what) {
  report(ctx_.getDiagnostics(), where, "cannot persist " + path + ": " + what);
  return {};
}

namespace {

// Whether two reflections of one spelling describe the same type. They can
// differ only for types in anonymous namespaces of different source files.
bool same_shape(const type_node& a, const type_node& b) {
  if (a.kind != b.kind || a.members.size() != b.members.size() || a.enumerators.size() != b.enumerators.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.members.size(); ++i) {
    if (a.members[i].cpp_name != b.members[i].cpp_name || a.members[i].type != b.members[i].type) return false;
  }
  for (std::size_t i = 0; i < a.enumerators.size(); ++i) {
    if (a.enumerators[i].cpp_name != b.enumerators[i].cpp_name) return false;
  }
  return true;
}

std::string conflict_message(const std::string& cpp) {
  return "two different types are named '" + cpp +
         "' in the scanned sources (types in anonymous namespaces of different files); one schema cannot hold "
         "both: rename one of them";
}

}  // namespace

std::string reflector::add(clang::QualType t, type_node node) {
  std::string key = node.cpp;
  auto [it, inserted] = out_.types.emplace(key, node);
  if (!inserted && !same_shape(it->second, node)) return {};
  done_[t.getTypePtr()] = key;
  return key;
}

std::string reflector::reflect(clang::QualType type, const std::string& path, clang::SourceLocation where) {
  if (type.isNull()) return fail(where, path, "the type could not be determined");
  clang::QualType t = type.getCanonicalType();
  if (t.isConstQualified() || t.isVolatileQualified()) {
    return fail(where, path,
                "const or volatile members cannot be restored when a snapshot is loaded; remove the qualifier");
  }
  const clang::Type* key_type = t.getTypePtr();
  if (auto it = done_.find(key_type); it != done_.end()) return it->second;
  if (failed_.count(key_type)) return {};

  std::string result;
  if (t->isPointerType() || t->isBlockPointerType()) {
    result = fail(where, path,
                  "raw pointers are not supported (what they point to is not saved); store the value itself, an "
                  "index or a key instead");
  } else if (t->isReferenceType()) {
    result = fail(where, path, "references are not supported; store the value itself");
  } else if (t->isMemberPointerType() || t->isFunctionType()) {
    result = fail(where, path, "pointers to members and functions are not supported");
  } else if (t->isArrayType()) {
    result = fail(where, path, "C arrays are not supported; use std::array<T, N> or std::vector<T>");
  } else if (auto* bt = t->getAs<clang::BuiltinType>()) {
    result = reflect_builtin(t, bt, path, where);
  } else if (auto* et = t->getAs<clang::EnumType>()) {
    result = reflect_enum(t, et->getDecl(), path, where);
  } else if (auto* rd = t->getAsCXXRecordDecl()) {
    std::string name = qualified_name(rd);
    auto* spec = llvm::dyn_cast<clang::ClassTemplateSpecializationDecl>(rd);
    if (name == "std::monostate") {
      type_node n;
      n.kind = type_kind::monostate;
      n.cpp = spell_type(t, ctx_);
      n.display = "std::monostate";
      result = add(t, std::move(n));
    } else if (name.rfind("std::", 0) == 0 || name.rfind("__gnu_cxx::", 0) == 0) {
      if (!spec) {
        result = fail(where, path, "'" + name + "' is not supported; see \"Supported types\" in Instadump's README");
      } else {
        result = reflect_std(t, spec, name, path, where);
      }
    } else {
      result = reflect_record(t, rd, path, where);
    }
  } else {
    result = fail(where, path, "type '" + type.getAsString() + "' is not supported");
  }
  if (result.empty()) failed_.insert(key_type);
  return result;
}

std::string reflector::reflect_builtin(clang::QualType t, const clang::BuiltinType* bt, const std::string& path,
                                       clang::SourceLocation where) {
  type_node n;
  n.cpp = spell_type(t, ctx_);
  n.display = n.cpp;
  if (bt->getKind() == clang::BuiltinType::Bool) {
    n.kind = type_kind::boolean;
  } else if (bt->isInteger()) {
    n.kind = type_kind::integer;
    n.bits = static_cast<int>(ctx_.getTypeSize(t));
    n.is_signed = bt->isSignedInteger();
    if (n.bits != 8 && n.bits != 16 && n.bits != 32 && n.bits != 64) {
      return fail(where, path, std::to_string(n.bits) + "-bit integers are not supported; use a type of 8..64 bits");
    }
  } else if (bt->getKind() == clang::BuiltinType::Float || bt->getKind() == clang::BuiltinType::Double) {
    n.kind = type_kind::floating;
    n.bits = static_cast<int>(ctx_.getTypeSize(t));
  } else {
    return fail(where, path, "type '" + t.getAsString() + "' is not supported; use bool, a fixed-width integer, "
                             "float or double");
  }
  return add(t, std::move(n));
}

std::string reflector::reflect_enum(clang::QualType t, const clang::EnumDecl* ed, const std::string& path,
                                    clang::SourceLocation where) {
  if (!ed->getDefinition() || !ed->getDefinition()->isComplete()) {
    return fail(where, path, "enum '" + qualified_name(ed) + "' is not defined (only declared); define it");
  }
  type_node n;
  n.kind = type_kind::enumeration;
  n.cpp = spell_type(t, ctx_);
  n.qualified = qualified_name(ed);
  n.display = n.qualified;
  std::set<llvm::APSInt> seen;
  for (const clang::EnumConstantDecl* e : ed->getDefinition()->enumerators()) {
    // Enumerators with the value of an earlier one are aliases: one schema enumerant.
    if (!seen.insert(e->getInitVal()).second) continue;
    n.enumerators.push_back(enumerator{e->getNameAsString(), {}});
  }
  if (n.enumerators.empty()) return fail(where, path, "enum '" + n.qualified + "' has no enumerators");
  std::string cpp = n.cpp;
  std::string key = add(t, std::move(n));
  if (key.empty()) return fail(ed->getLocation(), path, conflict_message(cpp));
  return key;
}

std::string reflector::ratio_text(clang::QualType ratio) const {
  auto* rd = llvm::dyn_cast_or_null<clang::ClassTemplateSpecializationDecl>(
      ratio.getCanonicalType()->getAsCXXRecordDecl());
  if (!rd || rd->getTemplateArgs().size() < 2) return "?";
  auto num = rd->getTemplateArgs()[0].getAsIntegral();
  auto den = rd->getTemplateArgs()[1].getAsIntegral();
  std::string s = llvm::toString(num, 10);
  if (den != 1) s += "/" + llvm::toString(den, 10);
  return s + " s";
}

std::string reflector::reflect_std(clang::QualType t, const clang::ClassTemplateSpecializationDecl* spec,
                                   const std::string& name, const std::string& path, clang::SourceLocation where) {
  const auto& args = spec->getTemplateArgs();
  auto arg_type = [&](unsigned i) { return args[i].getAsType(); };
  type_node n;
  n.cpp = spell_type(t, ctx_);
  n.display = name;
  if (name == "std::basic_string") {
    if (!ctx_.hasSameType(arg_type(0), ctx_.CharTy)) {
      return fail(where, path, "only std::string is supported among the string types; found '" + t.getAsString() + "'");
    }
    n.kind = type_kind::text;
    return add(t, std::move(n));
  }
  if (name == "std::vector" || name == "std::deque" || name == "std::set" || name == "std::unordered_set") {
    clang::QualType e = arg_type(0).getCanonicalType();
    bool byte_like = ctx_.hasSameType(e, ctx_.UnsignedCharTy) ||
                     (e->isEnumeralType() && qualified_name(e->getAs<clang::EnumType>()->getDecl()) == "std::byte");
    if (name == "std::vector" && byte_like) {
      n.kind = type_kind::data;
      n.element = spell_type(e, ctx_);
      return add(t, std::move(n));
    }
    n.kind = type_kind::sequence;
    n.container = name.substr(5);
    n.element = reflect(e, path, where);
    if (n.element.empty()) return {};
    return add(t, std::move(n));
  }
  if (name == "std::array") {
    n.kind = type_kind::array;
    n.array_size = args[1].getAsIntegral().getZExtValue();
    n.element = reflect(arg_type(0), path, where);
    if (n.element.empty()) return {};
    return add(t, std::move(n));
  }
  if (name == "std::map" || name == "std::unordered_map") {
    n.kind = type_kind::map;
    n.container = name.substr(5);
    n.key = reflect(arg_type(0), path, where);
    n.value = reflect(arg_type(1), path, where);
    if (n.key.empty() || n.value.empty()) return {};
    return add(t, std::move(n));
  }
  if (name == "std::optional") {
    n.kind = type_kind::optional;
    n.element = reflect(arg_type(0), path, where);
    if (n.element.empty()) return {};
    return add(t, std::move(n));
  }
  if (name == "std::pair" || name == "std::tuple" || name == "std::variant") {
    n.kind = name == "std::variant" ? type_kind::variant : type_kind::tuple;
    n.container = name.substr(5);
    std::vector<clang::QualType> elems;
    if (name == "std::pair") {
      elems = {arg_type(0), arg_type(1)};
    } else {
      for (const auto& pack : args[0].pack_elements()) elems.push_back(pack.getAsType());
    }
    if (n.kind == type_kind::variant && elems.empty()) return fail(where, path, "std::variant<> cannot hold a value");
    bool ok = true;
    for (std::size_t i = 0; i < elems.size(); ++i) {
      std::string k = reflect(elems[i], path, where);
      ok = ok && !k.empty();
      member mem;
      mem.cpp_name = std::to_string(i);
      mem.type = k;
      n.members.push_back(std::move(mem));
    }
    if (!ok) return {};
    return add(t, std::move(n));
  }
  if (name == "std::chrono::duration" || name == "std::chrono::time_point") {
    clang::QualType dur = name == "std::chrono::duration" ? t : arg_type(1);
    auto* dspec =
        llvm::dyn_cast_or_null<clang::ClassTemplateSpecializationDecl>(dur.getCanonicalType()->getAsCXXRecordDecl());
    if (!dspec) return fail(where, path, "unexpected std::chrono type '" + t.getAsString() + "'");
    n.kind = name == "std::chrono::duration" ? type_kind::duration : type_kind::time_point;
    clang::QualType rep = dspec->getTemplateArgs()[0].getAsType();
    if (!rep->isArithmeticType() || rep->isBooleanType()) {
      return fail(where, path, "a duration's representation must be an integer or floating-point type");
    }
    n.element = reflect(rep, path, where);
    if (n.element.empty()) return {};
    n.unit = ratio_text(dspec->getTemplateArgs()[1].getAsType());
    if (n.kind == type_kind::time_point) {
      n.unit += " since the epoch of " + qualified_name(arg_type(0)->getAsCXXRecordDecl());
    }
    return add(t, std::move(n));
  }
  return fail(where, path, "'" + name + "' is not supported; supported standard types are string, vector, deque, "
                           "array, set, unordered_set, map, unordered_map, optional, pair, tuple, variant, "
                           "monostate, chrono::duration and chrono::time_point");
}

bool reflector::opted_in_private(const clang::CXXRecordDecl* rd) const {
  for (const auto* a : rd->specific_attrs<clang::AnnotateAttr>()) {
    if (a->getAnnotation() == persist_private_annotation) return true;
  }
  // A class template specialization carries the attribute on its template.
  if (auto* spec = llvm::dyn_cast<clang::ClassTemplateSpecializationDecl>(rd)) {
    return opted_in_private(spec->getSpecializedTemplate()->getTemplatedDecl());
  }
  return false;
}

bool reflector::add_fields(const clang::CXXRecordDecl* rd, const std::string& owner, type_node& node,
                           const std::string& path, clang::SourceLocation where) {
  bool ok = true;
  for (const clang::CXXBaseSpecifier& base : rd->bases()) {
    auto* brd = base.getType()->getAsCXXRecordDecl();
    if (base.isVirtual() || base.getAccessSpecifier() != clang::AS_public || !brd) {
      report(ctx_.getDiagnostics(), base.getBeginLoc(),
             "cannot persist " + path + ": only public, non-virtual base classes are supported");
      ok = false;
      continue;
    }
    ok = add_fields(brd->getDefinition(), owner, node, path, where) && ok;
  }
  for (const clang::FieldDecl* f : rd->fields()) {
    if (f->isUnnamedBitField()) continue;
    std::string member_path = path + " \u2192 " + owner + "::" + f->getNameAsString();
    if (f->isAnonymousStructOrUnion() || f->getName().empty()) {
      report(ctx_.getDiagnostics(), f->getLocation(),
             "cannot persist " + path + " \u2192 " + owner +
                 ": anonymous structs and unions are not supported; give the member a name and a named type");
      ok = false;
      continue;
    }
    std::string private_owner;
    if (f->getAccess() != clang::AS_public) {
      std::string kind = f->getAccess() == clang::AS_private ? "private" : "protected";
      if (!opted_in_private(rd)) {
        report(ctx_.getDiagnostics(), f->getLocation(),
               "cannot persist " + member_path + ": the member is " + kind +
                   "; make it public, or mark '" + owner + "' [[instadump::persist_private]] to persist its " +
                   "non-public data members too");
        ok = false;
        continue;
      }
      if (f->isBitField()) {
        report(ctx_.getDiagnostics(), f->getLocation(),
               "cannot persist " + member_path + ": a " + kind + " bit-field cannot be reached; make it public");
        ok = false;
        continue;
      }
      private_owner = spell_type(ctx_.getRecordType(rd), ctx_);
    }
    std::string k = reflect(f->getType(), member_path, f->getLocation());
    if (k.empty()) {
      ok = false;
      continue;
    }
    member mem;
    mem.cpp_name = f->getNameAsString();
    mem.type = k;
    mem.private_owner = private_owner;
    mem.renamed_from = renamed_from(f);
    node.members.push_back(std::move(mem));
  }
  return ok;
}

std::string reflector::reflect_record(clang::QualType t, const clang::CXXRecordDecl* rd, const std::string& path,
                                      clang::SourceLocation where) {
  if (rd->isUnion()) {
    return fail(where, path, "unions are not supported (the active member is unknown); use std::variant");
  }
  if (rd->isLambda()) return fail(where, path, "function objects and lambdas cannot be persisted");
  if (!sema_.isCompleteType(where, t) || !rd->getDefinition()) {
    return fail(where, path, "type '" + t.getAsString() + "' is incomplete; include its definition");
  }
  rd = rd->getDefinition();
  if (rd->getIdentifier() == nullptr) {
    return fail(where, path, "unnamed structs are not supported; give the type a name");
  }
  if (rd->isLocalClass()) return fail(where, path, "classes declared inside a function are not supported");
  if (!rd->isAggregate() && !rd->hasDefaultConstructor()) {
    return fail(where, path, "'" + qualified_name(rd) + "' has no default constructor, which loading needs");
  }
  type_node n;
  n.kind = type_kind::record;
  n.cpp = spell_type(t, ctx_);
  n.qualified = qualified_name(rd);
  n.display = rd->getNameAsString();
  n.template_args = template_arg_fragments(rd);
  // Register first so recursive types (a Node holding std::vector<Node>) terminate.
  std::string key = n.cpp;
  std::optional<type_node> previous;  // the same spelling, reflected in an earlier file
  if (auto it = out_.types.find(key); it != out_.types.end()) previous = it->second;
  out_.types[key] = n;
  done_[t.getTypePtr()] = key;
  bool ok = add_fields(rd, n.display, n, path, where);
  if (ok && previous && !same_shape(*previous, n)) {
    fail(rd->getLocation(), path, conflict_message(key));
    ok = false;
  }
  if (!ok) {
    done_.erase(t.getTypePtr());
    if (previous) out_.types[key] = *previous;
    else out_.types.erase(key);
    return {};
  }
  out_.types[key] = std::move(n);
  return key;
}

}  // namespace instadump_codegen

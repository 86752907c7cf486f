// The child program of limits_test.cpp: saves values at and beyond the
// ceilings of the stored format (common/limits.h) with generated codecs, and
// loads them in a fresh process, against one snapshot directory.
//
//   codegen_limits_child save <dir> <shape> <n>   setup; sets state <shape> to a value n deep
//                                                 (or n long); save_all
//   codegen_limits_child deepest <dir> <shape>    setup; saves <shape> 1, 2, ... deep until a
//                                                 save is refused; prints "deepest <n>", the
//                                                 last that saved
//   codegen_limits_child lowered <dir> <shape> <n> like save, with the ceilings lowered
//                                                 (lowered_ceilings below)
//   codegen_limits_child load <dir>               setup; prints "<shape> <n>" for every state
//
// A save prints "saved" (exit 0) or, refused, "limit_exceeded <limit>
// <measured> <message>" (exit 3); any other error exits 4, a failed setup 5.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/limits.h"

import instadump;

namespace lim {

// Recursive through a std::vector: the tree.
struct node {
  std::string label;
  std::vector<node> children;
};

// Recursive through a map's values.
struct folder {
  std::map<std::string, folder> entries;
};

// Recursive through a variant holding a std::deque.
struct expr {
  std::variant<std::monostate, std::int64_t, std::deque<expr>> term;
};

// Mutually recursive through an optional.
struct b_node;
struct a_node {
  std::vector<b_node> bs;
};
struct b_node {
  std::optional<a_node> a;
};

// A recursive type inside parts of a fixed depth.
struct holder {
  int id = 0;
  std::optional<std::vector<node>> forest;
};

// level<N> nests N + 1 structs: level<62> in a state takes exactly the 64
// levels a load reads (its root struct, then 63).
template <int N>
struct level {
  level<N - 1> inner;
};
template <>
struct level<0> {
  int value = 0;
};
// A type of no fields: its values take no words in a list.
struct empty {};

template <int N>
int& bottom(level<N>& v) {
  if constexpr (N == 0) {
    return v.value;
  } else {
    return bottom(v.inner);
  }
}

[[instadump::state]] instadump::ref<node> tree;
[[instadump::state]] instadump::ref<folder> folders;
[[instadump::state]] instadump::ref<expr> expression;
[[instadump::state]] instadump::ref<a_node> mutual;
[[instadump::state]] instadump::ref<holder> held;
[[instadump::state]] instadump::ref<level<62>> deepest_static;
[[instadump::state]] instadump::ref<std::vector<std::int32_t>> numbers;
[[instadump::state]] instadump::ref<std::string> text;
[[instadump::state]] instadump::ref<std::vector<std::byte>> bytes;
[[instadump::state]] instadump::ref<std::vector<bool>> flags;
[[instadump::state]] instadump::ref<std::vector<std::monostate>> voids;
[[instadump::state]] instadump::ref<std::vector<empty>> empties;

}  // namespace lim

namespace {

// Values n deep (chains: every level holds the next one), and how deep a
// loaded value is.
lim::node node_chain(int n, const std::string& label) {
  lim::node root{label, {}};
  for (int i = 1; i < n; ++i) root = lim::node{label, {std::move(root)}};
  return root;
}
int depth_of(const lim::node& v) {
  int d = 1;
  for (const lim::node* p = &v; !p->children.empty(); p = &p->children.front()) ++d;
  return d;
}

lim::folder folder_chain(int n) {
  lim::folder f;
  for (int i = 1; i < n; ++i) {
    lim::folder outer;
    outer.entries.emplace("sub", std::move(f));
    f = std::move(outer);
  }
  return f;
}
int depth_of(const lim::folder& v) {
  int d = 1;
  for (const lim::folder* p = &v; !p->entries.empty(); p = &p->entries.begin()->second) ++d;
  return d;
}

lim::expr expr_chain(int n) {
  lim::expr e{std::int64_t{7}};
  for (int i = 1; i < n; ++i) e = lim::expr{std::deque<lim::expr>{std::move(e)}};
  return e;
}
int depth_of(const lim::expr& v) {
  int d = 1;
  for (const lim::expr* p = &v; std::holds_alternative<std::deque<lim::expr>>(p->term); ++d) {
    p = &std::get<std::deque<lim::expr>>(p->term).front();
  }
  return d;
}

lim::a_node mutual_chain(int n) {
  lim::a_node a;
  for (int i = 1; i < n; ++i) {
    lim::a_node outer;
    outer.bs.push_back(lim::b_node{std::move(a)});
    a = std::move(outer);
  }
  return a;
}
int depth_of(const lim::a_node& v) {
  int d = 1;
  for (const lim::a_node* p = &v; !p->bs.empty() && p->bs.front().a; p = &*p->bs.front().a) ++d;
  return d;
}

// The ceilings `lowered` saves `shape` with: the one it meets lowered
// enough to reach without much memory.
instadump::limits::save_ceilings lowered_ceilings(const std::string& shape) {
  instadump::limits::save_ceilings c;
  if (shape == "numbers") c.list_elements = 1000;
  if (shape == "text") c.text_bytes = 100;
  if (shape == "bytes") c.data_bytes = 100;
  if (shape == "wide-numbers") c.value_words = 10000;
  return c;
}

template <class T>
void set(instadump::ref<T>& r, T v) {
  instadump::dosync([&] { r.set(std::move(v)); });
}

// Sets state `shape` to a value `n` deep (or long). False for an unknown shape.
bool set_shape(const std::string& shape, int n) {
  const auto size = static_cast<std::size_t>(n);
  if (shape == "tree") {
    set(lim::tree, node_chain(n, "x"));
  } else if (shape == "big-tree") {  // more than 64 KiB: saved in place once it was saved
    set(lim::tree, node_chain(n, std::string(100 * 1024, 'b')));
  } else if (shape == "folder") {
    set(lim::folders, folder_chain(n));
  } else if (shape == "expr") {
    set(lim::expression, expr_chain(n));
  } else if (shape == "mutual") {
    set(lim::mutual, mutual_chain(n));
  } else if (shape == "holder") {
    set(lim::held, lim::holder{n, std::vector<lim::node>{node_chain(n, "h")}});
  } else if (shape == "static") {
    lim::level<62> v;
    lim::bottom(v) = n;
    set(lim::deepest_static, v);
  } else if (shape == "numbers") {
    set(lim::numbers, std::vector<std::int32_t>(size, 5));
  } else if (shape == "wide-numbers") {  // n thousand words of data
    set(lim::numbers, std::vector<std::int32_t>(size * 2000, 5));
  } else if (shape == "voids") {
    set(lim::voids, std::vector<std::monostate>(size));
  } else if (shape == "empties") {
    set(lim::empties, std::vector<lim::empty>(size));
  } else if (shape == "text") {
    set(lim::text, std::string(size, 't'));
  } else if (shape == "bytes") {
    set(lim::bytes, std::vector<std::byte>(size, std::byte{1}));
  } else if (shape == "huge-flags") {  // the real list ceiling, plus n: 64 MiB
    set(lim::flags, std::vector<bool>(static_cast<std::size_t>(instadump::limits::list_elements) + size, true));
  } else {
    return false;
  }
  return true;
}

// Saves; prints what happened. Returns the exit code.
int save() {
  try {
    instadump::save_all();
    std::printf("saved\n");
    return 0;
  } catch (const instadump::limit_exceeded& e) {
    std::printf("limit_exceeded %llu %llu %s\n", static_cast<unsigned long long>(e.limit()),
                static_cast<unsigned long long>(e.measured()), e.what());
    return 3;
  } catch (const std::exception& e) {
    std::printf("error: %s\n", e.what());
    return 4;
  }
}

void print_loaded() {
  std::printf("tree %d\n", depth_of(lim::tree.deref()));
  std::printf("folder %d\n", depth_of(lim::folders.deref()));
  std::printf("expr %d\n", depth_of(lim::expression.deref()));
  std::printf("mutual %d\n", depth_of(lim::mutual.deref()));
  const lim::holder& h = lim::held.deref();
  std::printf("holder %d\n", h.forest && !h.forest->empty() ? depth_of(h.forest->front()) : 0);
  lim::level<62> deepest = lim::deepest_static.deref();
  std::printf("static %d\n", lim::bottom(deepest));
  std::printf("numbers %zu\n", lim::numbers.deref().size());
  std::printf("text %zu\n", lim::text.deref().size());
  std::printf("bytes %zu\n", lim::bytes.deref().size());
  std::printf("flags %zu\n", lim::flags.deref().size());
  std::printf("voids %zu\n", lim::voids.deref().size());
  std::printf("empties %zu\n", lim::empties.deref().size());
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (argc < 3 || (cmd != "load" && argc < 4)) {
    std::fprintf(stderr, "usage: codegen_limits_child save|deepest|lowered|load <dir> [<shape> [<n>]]\n");
    return 2;
  }
  try {
    instadump::setup(argv[2]);
  } catch (const std::exception& e) {
    std::printf("setup failed: %s\n", e.what());
    return 5;
  }
  if (cmd == "load") {
    print_loaded();
    return 0;
  }
  const std::string shape = argv[3];
  if (cmd == "deepest") {
    int n = 1;
    for (; n < 1000; ++n) {
      if (!set_shape(shape, n)) return 2;
      try {
        instadump::save_all(instadump::save_options{.durable = false});
      } catch (const instadump::limit_exceeded&) {
        break;
      }
    }
    std::printf("deepest %d\n", n - 1);
    return 0;
  }
  if (argc < 5) return 2;
  if (cmd == "lowered") instadump::limits::testing::lower(lowered_ceilings(shape));
  if ((cmd != "save" && cmd != "lowered") || !set_shape(shape, std::atoi(argv[4]))) return 2;
  return save();
}

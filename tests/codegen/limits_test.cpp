// A save never writes what a load refuses: values at and beyond the
// ceilings of the stored format (common/limits.h, README "Limits"), saved by
// one process with generated codecs and loaded by a fresh one
// (codegen_limits_child). A value beyond a ceiling is refused at save with
// limit_exceeded naming the ref, the ceiling and what the value measured,
// and the snapshot saved before it still loads; the deepest value that
// saves loads.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <string>
#include <vector>

#include "test_dir.h"

namespace {

struct child_result {
  int status;
  std::string out;
};

// Runs codegen_limits_child with `args` to completion; its stdout.
child_result run_child(const std::vector<std::string>& args) {
  std::string cmd = LIMITS_CHILD_PATH;
  for (const auto& a : args) cmd += " '" + a + "'";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

child_result save(const test_util::scratch_dir& dir, const std::string& shape, int n) {
  return run_child({"save", dir.path().string(), shape, std::to_string(n)});
}

// What a fresh process loads, one "<shape> <n>" line per state.
std::string loaded(const test_util::scratch_dir& dir) {
  child_result r = run_child({"load", dir.path().string()});
  REQUIRE(r.status == 0);
  return r.out;
}

// "limit_exceeded <limit> <measured> <message>", as the child prints a refusal.
std::string refusal(int limit, int measured, const std::string& key) {
  return "limit_exceeded " + std::to_string(limit) + " " + std::to_string(measured) +
         " instadump: cannot save ref '" + key + "': ";
}

}  // namespace

TEST_CASE("a recursive value deeper than a load reads is refused at save, and the previous snapshot loads",
          "[codegen][limits]") {
  test_util::scratch_dir dir;
  child_result r = save(dir, "tree", 10);
  REQUIRE(r.out == "saved\n");
  CHECK_THAT(loaded(dir), Catch::Contains("tree 10\n"));

  // 100 and 1,000 levels: the root struct, the tree's root node, and one
  // list of children per node.
  for (int depth : {100, 1000}) {
    r = save(dir, "tree", depth);
    CHECK(r.status == 3);
    CHECK_THAT(r.out, Catch::StartsWith(refusal(64, depth + 2, "lim::tree")) &&
                          Catch::Contains("the value nests structs and lists " + std::to_string(depth + 2) +
                                          " levels deep (its root struct included), and a load reads at most 64") &&
                          Catch::Contains("nothing was written, the previous snapshots are intact"));
    CHECK_THAT(loaded(dir), Catch::Contains("tree 10\n"));
  }
  // The store took no harm: the next value within the limit saves.
  REQUIRE(save(dir, "tree", 20).out == "saved\n");
  CHECK_THAT(loaded(dir), Catch::Contains("tree 20\n"));
}

TEST_CASE("a large value too deep is refused when it is encoded straight into the store's pages",
          "[codegen][limits]") {
  // A value of more than 64 KiB saved once is encoded in place the next
  // time (persist/value_encoding.h): the refusal comes from inside the
  // store's write, which must let it through as it is.
  test_util::scratch_dir dir;
  REQUIRE(save(dir, "big-tree", 10).out == "saved\n");
  child_result r = save(dir, "big-tree", 100);
  CHECK(r.status == 3);
  CHECK_THAT(r.out, Catch::StartsWith(refusal(64, 102, "lim::tree")));
  CHECK_THAT(loaded(dir), Catch::Contains("tree 10\n"));
  REQUIRE(save(dir, "big-tree", 30).out == "saved\n");
  CHECK_THAT(loaded(dir), Catch::Contains("tree 30\n"));
}

TEST_CASE("the deepest recursive value that saves loads in a fresh process, and one level more is refused",
          "[codegen][limits]") {
  // (shape, deepest chain that fits 64 levels, the levels one more takes):
  //   tree    n nodes: root struct + n nodes' lists + the first node       n + 2
  //   folder  n folders: each a struct and its list of entries             2n + 1
  //   expr    n exprs: each a struct and its variant, and n - 1 deques     2n + 1
  //   mutual  n a_nodes: each a struct, its list, and (n - 1) optionals    3n
  //   holder  the holder, its optional and list, then a tree of n nodes    n + 4
  struct shape {
    std::string name;
    std::string key;
    int deepest;
    int one_more_levels;
  };
  for (const shape& s : {shape{"tree", "lim::tree", 62, 65}, shape{"folder", "lim::folders", 31, 65},
                         shape{"expr", "lim::expression", 31, 65}, shape{"mutual", "lim::mutual", 21, 66},
                         shape{"holder", "lim::held", 60, 65}}) {
    INFO(s.name);
    test_util::scratch_dir dir;
    child_result r = run_child({"deepest", dir.path().string(), s.name});
    CHECK(r.out == "deepest " + std::to_string(s.deepest) + "\n");
    CHECK_THAT(loaded(dir), Catch::Contains(s.name + " " + std::to_string(s.deepest) + "\n"));
    r = save(dir, s.name, s.deepest + 1);
    CHECK(r.status == 3);
    CHECK_THAT(r.out, Catch::StartsWith(refusal(64, s.one_more_levels, s.key)));
  }
}

TEST_CASE("a type exactly as deep as a load reads saves and loads", "[codegen][limits]") {
  // lim::level<62>: its root struct and 63 nested ones. (One more level is
  // refused when the program is built: codegen:diagnostics, too_deep.cpp.)
  test_util::scratch_dir dir;
  REQUIRE(save(dir, "static", 42).out == "saved\n");
  CHECK_THAT(loaded(dir), Catch::Contains("static 42\n"));
}

TEST_CASE("a list longer than Cap'n Proto allows is refused at save, naming the ref", "[codegen][limits]") {
  // The real ceiling: a std::vector<bool> of 2^29 elements takes 64 MiB.
  test_util::scratch_dir dir;
  REQUIRE(save(dir, "text", 3).out == "saved\n");
  child_result r = save(dir, "huge-flags", 1);
  CHECK(r.status == 3);
  CHECK_THAT(r.out, Catch::StartsWith(refusal(536870911, 536870912, "lim::flags") +
                                      "a std::vector of 536870912 elements is longer than a Cap'n Proto list can be "
                                      "(at most 536870911) (README, \"Limits\")"));
  CHECK_THAT(loaded(dir), Catch::Contains("text 3\n") && Catch::Contains("flags 0\n"));
}

TEST_CASE("lists of an empty type are refused at save when a load would read more than their size allows",
          "[codegen][limits]") {
  // Their elements take no words, but a load reads one word per element,
  // within 4 words per stored word plus 1024 (limits::traversal_words).
  //   voids    a root pointer and struct: 2 words, read: 1 + n       n <= 1031
  //   empties  the same and the list's tag word: 3 words              n <= 1035
  struct shape {
    std::string name;
    std::string key;
    int most;
  };
  for (const shape& s : {shape{"voids", "lim::voids", 1031}, shape{"empties", "lim::empties", 1035}}) {
    INFO(s.name);
    test_util::scratch_dir dir;
    REQUIRE(save(dir, s.name, s.most).out == "saved\n");
    CHECK_THAT(loaded(dir), Catch::Contains(s.name + " " + std::to_string(s.most) + "\n"));
    child_result r = save(dir, s.name, s.most + 1);
    CHECK(r.status == 3);
    CHECK_THAT(r.out, Catch::StartsWith(refusal(s.most + 1, s.most + 2, s.key) + "a load of the value would read " +
                                        std::to_string(s.most + 2) + " words"));
    CHECK_THAT(loaded(dir), Catch::Contains(s.name + " " + std::to_string(s.most) + "\n"));
  }
}

TEST_CASE("values beyond lowered ceilings are refused at save, and at the ceiling they save and load",
          "[codegen][limits]") {
  // The child lowers the one ceiling each shape meets (limits::testing::lower).
  struct ceiling {
    std::string shape;
    std::string key;
    int limit;
    std::string what;
  };
  for (const ceiling& c : {ceiling{"numbers", "lim::numbers", 1000, "a std::vector of 1001 elements is longer than a "
                                                                    "Cap'n Proto list can be (at most 1000)"},
                           ceiling{"text", "lim::text", 100, "a std::string of 101 bytes is longer than a Cap'n "
                                                             "Proto Text can be (at most 100)"},
                           ceiling{"bytes", "lim::bytes", 100, "a std::vector of 101 bytes is longer than a Cap'n "
                                                               "Proto Data can be (at most 100)"}}) {
    INFO(c.shape);
    test_util::scratch_dir dir;
    child_result r = run_child({"lowered", dir.path().string(), c.shape, std::to_string(c.limit)});
    REQUIRE(r.out == "saved\n");
    r = run_child({"lowered", dir.path().string(), c.shape, std::to_string(c.limit + 1)});
    CHECK(r.status == 3);
    CHECK_THAT(r.out, Catch::StartsWith(refusal(c.limit, c.limit + 1, c.key) + c.what));
    CHECK_THAT(loaded(dir), Catch::Contains(c.shape + " " + std::to_string(c.limit) + "\n"));
  }
}

TEST_CASE("a value larger than one segment is refused at save, also when encoded in place", "[codegen][limits]") {
  // One stored value is one segment (lowered here to 10,000 words). n
  // thousand words of numbers: 9 fit; saved once, the value is more than
  // 64 KiB, so the next save encodes it straight into the store's pages.
  test_util::scratch_dir dir;
  REQUIRE(run_child({"lowered", dir.path().string(), "wide-numbers", "9"}).out == "saved\n");
  child_result r = run_child({"lowered", dir.path().string(), "wide-numbers", "11"});
  CHECK(r.status == 3);
  CHECK_THAT(r.out, Catch::StartsWith("limit_exceeded 10000 ") &&
                        Catch::Contains("instadump: cannot save ref 'lim::numbers': its value takes ") &&
                        Catch::Contains("one stored value is one Cap'n Proto segment of at most 10000 words"));
  CHECK_THAT(loaded(dir), Catch::Contains("numbers 18000\n"));

  // Measured before it is written, in a process that saves it first.
  test_util::scratch_dir fresh;
  r = run_child({"lowered", fresh.path().string(), "wide-numbers", "11"});
  CHECK(r.status == 3);
  CHECK_THAT(r.out, Catch::StartsWith("limit_exceeded 10000 "));
  CHECK_THAT(loaded(fresh), Catch::Contains("numbers 0\n"));
}

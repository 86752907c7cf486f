// A state whose type comes from a named module of the user's
// (codegen_test_shapes): the generated codec sees it through this file's import.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "test_dir.h"

import instadump;
import codegen_test_shapes;

namespace drawing {
[[instadump::state]] instadump::ref<std::vector<shapes::shape>> scene;
}  // namespace drawing

TEST_CASE("types from a user's named module round-trip", "[codegen]") {
  test_util::scratch_dir dir;
  instadump::shutdown();
  instadump::setup(dir.path());
  std::vector<shapes::shape> s{{shapes::kind::square, 2.5, {"a"}}, {}};
  instadump::dosync([&] { drawing::scene.set(s); });
  instadump::save_all();
  instadump::dosync([&] { drawing::scene.set({}); });
  instadump::reload_all();
  CHECK(drawing::scene.deref() == s);
  instadump::shutdown();
}

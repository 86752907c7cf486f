// A user's named module holding state types: the "types in a named module"
// case. module_types_test.cpp imports it and defines states of these types.
module;
#include <string>
#include <vector>
export module codegen_test_shapes;

export namespace shapes {

enum class kind { circle, square };

struct shape {
  kind k = kind::circle;
  double size = 0;
  std::vector<std::string> notes;
  friend bool operator==(const shape&, const shape&) = default;
};

}  // namespace shapes

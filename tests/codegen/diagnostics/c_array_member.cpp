#include "instadump_stub.h"
struct Grid {
  int cells[4];  // expect-error: cannot persist game::grid → Grid::cells: C arrays are not supported; use std::array<T, N> or std::vector<T>
};
namespace game {
[[instadump::state]] instadump::ref<Grid> grid;
}

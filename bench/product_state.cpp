// The persistence benchmarks' state (b): one ref holding a vector of
// products, whose codec instadump-codegen generates -- so that saving and
// loading it measure exactly what a user's build gets. Empty except while a
// product benchmark runs (product_state in persist_fixtures.h fills it).
#include <vector>

#include "product.h"

import instadump;

namespace bench {
[[instadump::state]] instadump::ref<std::vector<product>> products;
}  // namespace bench

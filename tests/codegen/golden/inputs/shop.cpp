// Golden input: the example of issue 4 (types declared next to the states).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "instadump_stub.h"

struct Item { std::string name; int64_t qty; std::optional<double> price; std::vector<std::string> tags; };
enum class Mode { idle, busy };
namespace shop {
[[instadump::state]] instadump::ref<int> visits{150};
[[instadump::state]] instadump::ref<std::map<std::string, Item>> stock;
[[instadump::state]] instadump::ref<Mode> mode{Mode::idle};
}

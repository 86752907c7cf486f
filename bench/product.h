// The product of the persistence benchmarks' state (b), with its cereal
// serializer for the baselines. No Cap'n Proto here: instadump-codegen
// scans this header (through product_state.cpp) and generates the codec.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bench {

struct product {
  std::int64_t id = 0;
  std::string name;
  double price = 0;
  std::vector<std::string> tags;

  template <class Archive>
  void serialize(Archive& a) {
    a(id, name, price, tags);
  }
};

inline std::vector<product> make_products(std::size_t n) {
  std::vector<product> v;
  v.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    v.push_back(product{static_cast<std::int64_t>(i), "product-" + std::to_string(i), 0.25 * static_cast<double>(i),
                        {"tag-a" + std::to_string(i % 7), "tag-b" + std::to_string(i % 13)}});
  }
  return v;
}

}  // namespace bench

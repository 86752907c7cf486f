// The benchmark's state types, their Instadump codecs (written by hand, the
// way instadump-codegen generates them) and their cereal serializers (for the
// baselines).
#pragma once

#include "instadump/capnp_compat.h"
#include <capnp/message.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bench_state.capnp.h"

import instadump;

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

inline capnp::Text::Reader text(const std::string& s) { return capnp::Text::Reader(s.data(), s.size()); }

inline void encode_products(const std::vector<product>& v, capnp::MessageBuilder& m) {
  auto items = m.initRoot<Products>().initItems(static_cast<unsigned>(v.size()));
  for (unsigned i = 0; i < v.size(); ++i) {
    const product& p = v[i];
    auto b = items[i];
    b.setId(p.id);
    b.setName(text(p.name));
    b.setPrice(p.price);
    auto tags = b.initTags(static_cast<unsigned>(p.tags.size()));
    for (unsigned j = 0; j < p.tags.size(); ++j) tags.set(j, text(p.tags[j]));
  }
}

inline std::vector<product> decode_products(capnp::MessageReader& m, const instadump::schema_identity&) {
  auto items = m.getRoot<Products>().getItems();
  std::vector<product> v;
  v.reserve(items.size());
  for (auto r : items) {
    product p;
    p.id = r.getId();
    auto name = r.getName();
    p.name.assign(name.begin(), name.size());
    p.price = r.getPrice();
    auto tags = r.getTags();
    p.tags.reserve(tags.size());
    for (auto t : tags) p.tags.emplace_back(t.begin(), t.size());
    v.push_back(std::move(p));
  }
  return v;
}

inline void encode_long(const long& v, capnp::MessageBuilder& m) { m.initRoot<Int64Value>().setValue(v); }
inline long decode_long(capnp::MessageReader& m, const instadump::schema_identity&) {
  return m.getRoot<Int64Value>().getValue();
}

inline constexpr instadump::schema_identity products_schema{0x5050000000000001ull, 1};
inline constexpr instadump::schema_identity long_schema{0x4040000000000001ull, 1};
inline constexpr instadump::state_codec<std::vector<product>> products_codec{&encode_products, &decode_products};
inline constexpr instadump::state_codec<long> long_codec{&encode_long, &decode_long};

}  // namespace bench

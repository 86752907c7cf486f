// States whose types are declared in the scanned .cpp itself, one of them in
// an anonymous namespace: the generated codec is compiled at the end of this
// file's translation unit, so it sees them with no extra line here. Also: a
// class whose private members persist through [[instadump::persist_private]].
#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "test_dir.h"

import instadump;

namespace local {

enum class mode { idle, busy };

struct item {
  std::string name;
  std::int64_t qty = 0;
  std::optional<double> price;
  std::vector<std::string> tags;
  friend bool operator==(const item&, const item&) = default;
};

namespace {
struct hidden {
  std::variant<int, item> what;
  friend bool operator==(const hidden&, const hidden&) = default;
};
}  // namespace

// Non-public members persist too, with the class's opt-in.
class [[instadump::persist_private]] account {
 public:
  account() = default;
  account(std::string owner, std::int64_t cents) : owner_(std::move(owner)), cents_(cents) {}
  const std::string& owner() const { return owner_; }
  std::int64_t cents() const { return cents_; }
  friend bool operator==(const account&, const account&) = default;

 protected:
  std::string owner_;

 private:
  std::int64_t cents_ = 0;
};

[[instadump::state]] instadump::ref<std::map<std::string, item>> stock;
[[instadump::state]] instadump::ref<account> bank_account;
[[instadump::state]] instadump::ref<mode> current{mode::idle};
[[instadump::state]] instadump::ref<hidden> secret;

}  // namespace local

TEST_CASE("types declared in the scanned .cpp (and in an anonymous namespace) round-trip", "[codegen]") {
  test_util::scratch_dir dir;
  instadump::shutdown();
  instadump::setup(dir.path());
  std::map<std::string, local::item> s{{"apple", {"apple", 3, 0.5, {"fruit", "red"}}}, {"nut", {"nut", 0, {}, {}}}};
  local::hidden h{local::item{"x", 1, {}, {"t"}}};
  instadump::dosync([&] {
    local::stock.set(s);
    local::current.set(local::mode::busy);
    local::secret.set(h);
    local::bank_account.set(local::account("ada", -42));
  });
  instadump::save_all();
  instadump::dosync([&] {
    local::stock.set({});
    local::current.set(local::mode::idle);
    local::secret.set({});
    local::bank_account.set({});
  });
  instadump::reload_all();
  CHECK(local::bank_account.deref() == local::account("ada", -42));
  CHECK(local::stock.deref() == s);
  CHECK(local::current.deref() == local::mode::busy);
  CHECK(local::secret.deref() == h);
  instadump::shutdown();
}

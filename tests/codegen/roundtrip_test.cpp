// Round trip of every supported type through the generated codec and a real
// setup / save_all / reload_all, with edge values: empty containers, NaN and
// infinities, integer limits, unicode and embedded NUL in strings, and a
// 1M-element list. The types live in types.h (the "types in a header" case).
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "test_dir.h"
#include "types.h"

import instadump;

namespace rt {
[[instadump::state]] instadump::ref<everything> all;
[[instadump::state]] instadump::ref<std::vector<std::int32_t>> big;
[[instadump::state]] instadump::ref<double> nan_value{0.0};
[[instadump::state]] instadump::ref<std::string> text{"default"};
[[instadump::state]] instadump::ref<color> favourite{color::green};

// States of scalar type: their codecs write them word by word
// (state_codec::encode_words), which saves use instead of a MessageBuilder.
[[instadump::state]] instadump::ref<bool> flag{false};
[[instadump::state]] instadump::ref<std::int8_t> tiny{0};
[[instadump::state]] instadump::ref<std::uint64_t> huge{0};
[[instadump::state]] instadump::ref<float> ratio{0.0f};
[[instadump::state]] instadump::ref<std::chrono::milliseconds> timeout{std::chrono::milliseconds(0)};
[[instadump::state]] instadump::ref<std::chrono::duration<double>> seconds{std::chrono::duration<double>(0.0)};
[[instadump::state]] instadump::ref<std::chrono::system_clock::time_point> when{};

struct holder {
  // A public static data member is a state too.
  [[instadump::state]] static instadump::ref<std::map<std::string, std::int64_t>> counts;
};
instadump::ref<std::map<std::string, std::int64_t>> holder::counts;
}  // namespace rt

namespace {

template <class T>
void set(instadump::ref<T>& r, T v) {
  instadump::dosync([&] { r.set(std::move(v)); });
}

rt::everything edge_values() {
  using lim8 = std::numeric_limits<std::int8_t>;
  using lim64 = std::numeric_limits<std::int64_t>;
  rt::everything e;
  e.s = {true, lim8::min(), std::numeric_limits<std::int16_t>::min(), std::numeric_limits<std::int32_t>::max(),
         lim64::min(), 255, 65535, std::numeric_limits<std::uint32_t>::max(),
         std::numeric_limits<std::uint64_t>::max(), std::numeric_limits<float>::infinity(),
         -std::numeric_limits<double>::infinity(), 'x', lim64::max(), 42};
  static constexpr char unicode_and_nul[] = "h\u00e9llo \u4e16\u754c \U0001F600 with\0nul";
  e.text = std::string(unicode_and_nul, sizeof unicode_and_nul - 1);
  e.labels = {"", std::string("\0\0", 2), "z"};
  e.dq = {1, -2, 3};
  e.arr = {1.5, -0.0, std::numeric_limits<double>::denorm_min()};
  e.tags = {"a", "b"};
  e.ids = {lim64::min(), 0, lim64::max()};
  e.by_name = {{"one", e.s}, {"", rt::scalars{}}};
  e.colors_by_id = {{7, {rt::color::red, rt::color::blue}}, {-1, {}}};
  e.maybe_text = "";
  e.nested_optional = std::optional<int>{};
  e.pair = {-5, "five"};
  e.tuple = {true, 2.5, rt::color::blue};
  e.var = rt::scalars{.i32 = 7};
  e.bytes = {std::byte{0}, std::byte{255}};
  e.octets = {0, 1, 2, 255};
  e.timeout = std::chrono::milliseconds(-1234);
  e.seconds_d = std::chrono::duration<double>(0.25);
  e.at = std::chrono::system_clock::time_point(std::chrono::system_clock::duration(1700000000123456789));
  e.col = rt::color::blue;
  e.legacy = rt::LEGACY_ON;
  e.der.base_name = "base";
  e.der.extra = 3;
  e.boxed = {4, 5};
  e.tree = {"root", {{"a", {}}, {"b", {{"b1", {}}}}}};
  e.grid = {{}, {"x", "y"}};
  e.flags = {true, false, true};
  return e;
}

}  // namespace

TEST_CASE("every supported type round-trips with edge values", "[codegen]") {
  test_util::scratch_dir dir;
  instadump::shutdown();
  instadump::setup(dir.path());
  rt::everything original = edge_values();
  set(rt::all, original);
  std::vector<std::int32_t> million(1'000'000);
  for (std::size_t i = 0; i < million.size(); ++i) million[i] = static_cast<std::int32_t>(i * 7 - 3);
  set(rt::big, million);
  set(rt::nan_value, std::numeric_limits<double>::quiet_NaN());
  set(rt::text, std::string("\0only\0nuls\0", 11));
  set(rt::favourite, rt::color::azure);
  set(rt::holder::counts, {{"k", -1}});
  instadump::save_all();

  set(rt::all, rt::everything{});
  set(rt::big, {});
  set(rt::nan_value, 1.0);
  set(rt::text, std::string("changed"));
  set(rt::favourite, rt::color::red);
  set(rt::holder::counts, {});
  instadump::reload_all();

  rt::everything loaded = rt::all.deref();
  CHECK(loaded.s == original.s);
  CHECK(loaded.text == original.text);
  CHECK(loaded.text.find('\0') != std::string::npos);
  CHECK(std::signbit(loaded.arr[1]));
  CHECK(loaded.at == original.at);
  CHECK(loaded.var.index() == 3);
  CHECK(loaded == original);
  CHECK(rt::big.deref() == million);
  CHECK(std::isnan(rt::nan_value.deref()));
  CHECK(rt::text.deref() == std::string("\0only\0nuls\0", 11));
  CHECK(rt::favourite.deref() == rt::color::blue);  // azure is an alias of blue
  CHECK(rt::holder::counts.deref() == std::map<std::string, std::int64_t>{{"k", -1}});
  instadump::shutdown();
}

TEST_CASE("empty values and defaults round-trip, also in a new setup", "[codegen]") {
  test_util::scratch_dir dir;
  instadump::shutdown();
  instadump::setup(dir.path());
  set(rt::all, rt::everything{});
  set(rt::big, {});
  instadump::save_all();
  instadump::shutdown();
  set(rt::all, edge_values());
  instadump::setup(dir.path());  // loads the saved (empty) values
  CHECK(rt::all.deref() == rt::everything{});
  CHECK(rt::big.deref().empty());
  instadump::shutdown();
}

TEST_CASE("states of scalar type are written word by word, exactly as their messages", "[codegen]") {
  test_util::scratch_dir dir;
  instadump::shutdown();
  instadump::setup(dir.path());
  using std::chrono::milliseconds;
  const auto at = std::chrono::system_clock::time_point(std::chrono::system_clock::duration(-123456789));
  struct values {
    bool flag;
    std::int8_t tiny;
    std::uint64_t huge;
    float ratio;
    milliseconds timeout;
    std::chrono::duration<double> seconds;
    std::chrono::system_clock::time_point when;
  };
  auto set_all = [](const values& v) {
    instadump::dosync([&] {
      rt::flag.set(v.flag);
      rt::tiny.set(v.tiny);
      rt::huge.set(v.huge);
      rt::ratio.set(v.ratio);
      rt::timeout.set(v.timeout);
      rt::seconds.set(v.seconds);
      rt::when.set(v.when);
    });
  };
  const values cases[] = {
      {true, std::numeric_limits<std::int8_t>::min(), std::numeric_limits<std::uint64_t>::max(),
       -std::numeric_limits<float>::infinity(), milliseconds(-1), std::chrono::duration<double>(-0.0), at},
      {false, -1, 0, std::numeric_limits<float>::denorm_min(), milliseconds(std::numeric_limits<std::int64_t>::max()),
       std::chrono::duration<double>(1e300), {}},
      {true, 127, 1, 0.5f, milliseconds(0), std::chrono::duration<double>(0.25), at + std::chrono::hours(1)},
  };
  for (const values& v : cases) {
    set_all(v);
    const instadump::save_result saved = instadump::save_all();
    CHECK(saved.refs_written_as_words >= 7);  // (and the codec of nan_value, a double, the same way)
    set_all(values{false, 3, 3, 3.0f, milliseconds(3), std::chrono::duration<double>(3), {}});
    instadump::reload_all();
    CHECK(rt::flag.deref() == v.flag);
    CHECK(rt::tiny.deref() == v.tiny);
    CHECK(rt::huge.deref() == v.huge);
    CHECK(std::memcmp(&rt::ratio.deref(), &v.ratio, sizeof(float)) == 0);
    CHECK(rt::timeout.deref() == v.timeout);
    CHECK(std::signbit(rt::seconds.deref().count()) == std::signbit(v.seconds.count()));
    CHECK(rt::seconds.deref() == v.seconds);
    CHECK(rt::when.deref() == v.when);
  }
  instadump::shutdown();
}

// reload_all() loads the way setup() does: a state the snapshot predates
// takes its default, a value that does not decode still fails the whole
// reload, and fall_back_to_older_snapshots skips damaged snapshots.
#include <catch2/catch.hpp>

#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "damage.h"
#include "fresh_session.h"
#include "test_state.h"

import instadump;

namespace {
using long_registration = instadump::state_registration<long>;
}  // namespace

TEST_CASE("reload_all gives a state added after the snapshot its default, as setup does", "[persist]") {
  test_util::fresh_session f;
  instadump::ref<long> kept{1};
  long_registration kept_reg(kept, "reload::kept", test_state::int64_schema, test_state::long_codec);
  instadump::setup(f.dir.db());
  instadump::dosync([&] { kept.set(10); });
  const std::uint64_t before = instadump::save_all().snapshot_id;  // written without reload::added

  // A later release adds a state (registered after setup, as from a plugin).
  instadump::ref<long> added{7};
  long_registration added_reg(added, "reload::added", test_state::int64_schema, test_state::long_codec);
  CHECK(added.deref() == 7);  // setup's rule: the snapshot does not hold it, so it keeps its default
  instadump::dosync([&] {
    kept.set(20);
    added.set(70);
  });
  instadump::save_all();

  CHECK(instadump::reload_all(before) == before);
  CHECK(kept.deref() == 10);
  CHECK(added.deref() == 7);
  CHECK(kept.pin().stamp() == added.pin().stamp());  // one commit installed both

  // The default is not stored anywhere yet: the next save writes it.
  const auto saved = instadump::save_all();
  CHECK(saved.refs_written == 1);
  instadump::shutdown();
  instadump::dosync([&] {
    kept.set(0);
    added.set(0);
  });
  instadump::setup(f.dir.db());
  CHECK(kept.deref() == 10);
  CHECK(added.deref() == 7);
}

TEST_CASE("reload_all still fails as a whole when a stored value does not decode", "[persist][errors]") {
  test_util::fresh_session f;
  instadump::setup_options quiet;
  quiet.on_late_load_error = [](const std::string&, const std::exception&) {};  // (reload::retyped's, expected)
  instadump::setup(f.dir.db(), quiet);
  std::optional<long_registration> as_number;
  instadump::ref<long> number{42};
  as_number.emplace(number, "reload::retyped", test_state::int64_schema, test_state::long_codec);
  const std::uint64_t id = instadump::save_all().snapshot_id;
  as_number.reset();

  // The next release changes the state's type and adds another state.
  instadump::ref<std::string> text{"default"};
  instadump::state_registration<std::string> text_reg(text, "reload::retyped", test_state::text_schema,
                                                      test_state::text_codec);
  instadump::ref<long> added{7};
  long_registration added_reg(added, "reload::added", test_state::int64_schema, test_state::long_codec);
  instadump::dosync([&] {
    text.set("live");
    added.set(70);
  });
  CHECK_THROWS_WITH(instadump::reload_all(id),
                    Catch::Contains("reload::retyped") && Catch::Contains("nothing was changed"));
  CHECK(text.deref() == "live");
  CHECK(added.deref() == 70);  // not reset to its default either
}

TEST_CASE("reload_all falls back to older snapshots only when asked, and says which it skipped", "[persist]") {
  test_util::fresh_session f;
  instadump::ref<std::string> value{""};
  instadump::state_registration<std::string> reg(value, "reload::value", test_state::text_schema,
                                                 test_state::text_codec);
  instadump::setup_options options3;
  options3.keep_generations = 3;
  instadump::setup(f.dir.db(), options3);
  std::vector<std::uint64_t> ids;
  for (char c : {'A', 'B', 'C'}) {
    instadump::dosync([&] { value.set(std::string(20'000, c)); });
    ids.push_back(instadump::save_all().snapshot_id);
  }
  instadump::shutdown();
  REQUIRE(test_util::damage_run_of(f.dir.db(), 'C'));  // the newest snapshot's value
  options3.load_snapshot = ids[1];
  instadump::setup(f.dir.db(), options3);  // the older ones are intact
  instadump::dosync([&] { value.set("live"); });

  CHECK_THROWS_AS(instadump::reload_all(), instadump::corrupt_data);
  CHECK_THROWS_AS(instadump::reload_all(ids[2]), instadump::corrupt_data);
  CHECK(value.deref() == "live");  // nothing changed

  instadump::reload_options options;
  options.fall_back_to_older_snapshots = true;
  std::vector<std::uint64_t> skipped;
  options.on_skipped_snapshot = [&](std::uint64_t id, const std::exception& why) {
    skipped.push_back(id);
    CHECK_THAT(why.what(), Catch::Contains("reload::value"));
  };
  CHECK(instadump::reload_all(options) == ids[1]);
  CHECK(skipped == std::vector<std::uint64_t>{ids[2]});
  CHECK(value.deref() == std::string(20'000, 'B'));

  // From a given id, and when only the oldest restores.
  skipped.clear();
  instadump::dosync([&] { value.set("live"); });
  CHECK(instadump::reload_all(ids[2], options) == ids[1]);
  CHECK(value.deref() == std::string(20'000, 'B'));
  CHECK(instadump::reload_all(ids[0], options) == ids[0]);
  CHECK(value.deref() == std::string(20'000, 'A'));
  CHECK(skipped == std::vector<std::uint64_t>{ids[2]});
}

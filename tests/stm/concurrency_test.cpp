#include <catch2/catch.hpp>
import instadump;
TEST_CASE("placeholder") {}

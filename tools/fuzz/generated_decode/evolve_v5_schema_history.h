// tests/evolution/v5/shop.cpp includes its target's history header by that
// target's name; in this target the same history is fuzz_generated_decode's.
#pragma once
#include "fuzz_generated_decode_schema_history.h"

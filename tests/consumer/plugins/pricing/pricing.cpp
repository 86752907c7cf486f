#include "pricing.h"

import instadump;

namespace pricing {
[[instadump::state]] instadump::ref<double> price_factor{1.0};

double factor() { return price_factor.deref(); }
void scale(double by) { price_factor.alter([by](double f) { return f * by; }); }
bool sees_transaction() { return instadump::in_transaction(); }
bool sees_setup() { return instadump::is_setup(); }
}  // namespace pricing

// A state in a shared library the program links: a price factor.
#pragma once

namespace pricing {
// The factor now (outside a transaction: the newest committed value).
double factor();
// Multiplies the factor by `by`. REQUIRES: inside a transaction.
void scale(double by);
// Whether this library sees the caller's transaction and setup (true when
// the process has one runtime).
bool sees_transaction();
bool sees_setup();
}  // namespace pricing

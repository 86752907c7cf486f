// Cap'n Proto 0.9.2 under -std=c++20.
//
// C++20's rewritten comparison operators (P2468R2) make expressions such as
// `"abc" == kj::StringPtr(...)` inside capnp/blob.h ambiguous or ill-formed,
// because KJ hides its free `const char*` comparison operators when
// `__cpp_impl_three_way_comparison` is defined. This header supplies them.
// Include it before any Cap'n Proto header (in a module's global module
// fragment, or with `-include` for generated `.capnp.c++` files).
#pragma once

#include <kj/string.h>

#if __cpp_impl_three_way_comparison
namespace kj {
inline bool operator==(const char* a, const StringPtr& b) { return StringPtr(a) == b; }
inline bool operator!=(const char* a, const StringPtr& b) { return !(StringPtr(a) == b); }
inline bool operator==(const char* a, const String& b) { return StringPtr(a) == b; }
inline bool operator!=(const char* a, const String& b) { return !(StringPtr(a) == b); }
}  // namespace kj
#endif

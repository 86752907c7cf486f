// The source of the target whose precompiled header (Catch2's single header)
// every test binary reuses; see tests/CMakeLists.txt. It compiles nothing
// itself.

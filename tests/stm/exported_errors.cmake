# Checks that every exception class declared in modules/common/errors.h is
# exported by the module (modules/stm/errors.cppm) and named by
# tests/stm/exported_errors_test.cpp, so that a new error type cannot be
# added without users of `import instadump` being able to catch it.
# Run: cmake -DSOURCE_DIR=<repo> -P exported_errors.cmake
file(READ "${SOURCE_DIR}/modules/common/errors.h" header)
file(READ "${SOURCE_DIR}/modules/stm/errors.cppm" exports)
file(READ "${SOURCE_DIR}/tests/stm/exported_errors_test.cpp" test)
string(REGEX MATCHALL "\nclass [a-z_]+ : public" declared "${header}")
if(NOT declared)
  message(FATAL_ERROR "no error classes found in ${SOURCE_DIR}/modules/common/errors.h: has its layout changed?")
endif()
set(missing "")
foreach(decl IN LISTS declared)
  string(REGEX REPLACE "\nclass ([a-z_]+) : public" "\\1" name "${decl}")
  if(NOT exports MATCHES "using instadump::${name};")
    string(APPEND missing "\n  ${name}: add `using instadump::${name};` to modules/stm/errors.cppm")
  endif()
  if(NOT test MATCHES "instadump::${name}[,)]")
    string(APPEND missing "\n  ${name}: add instadump::${name} to the TEMPLATE_TEST_CASE list in tests/stm/exported_errors_test.cpp")
  endif()
endforeach()
if(missing)
  message(FATAL_ERROR "error types declared in modules/common/errors.h but not exported or not tested:${missing}")
endif()
list(LENGTH declared count)
message(STATUS "all ${count} error types in errors.h are exported and tested")

# Runs the counter twice against a fresh directory and checks both outputs:
# the second process must see what the first one saved. With -DEXPECT_FILE,
# also checks that the file exists (the schema written to SCHEMA_DIR).
cmake_minimum_required(VERSION 3.25)  # script mode: current policies
if(EXPECT_FILE AND NOT EXISTS ${EXPECT_FILE})
  message(FATAL_ERROR "expected the generated schema at ${EXPECT_FILE}")
endif()
file(REMOVE_RECURSE ${DIR})
execute_process(COMMAND ${COUNTER} ${DIR} OUTPUT_VARIABLE first RESULT_VARIABLE rc1)
execute_process(COMMAND ${COUNTER} ${DIR} OUTPUT_VARIABLE second RESULT_VARIABLE rc2)
file(REMOVE_RECURSE ${DIR})
if(NOT rc1 EQUAL 0 OR NOT rc2 EQUAL 0)
  message(FATAL_ERROR "counter failed: exit codes ${rc1}, ${rc2}")
endif()
if(NOT first STREQUAL "150 abc\n" OR NOT second STREQUAL "1000 abc\n")
  message(FATAL_ERROR "expected '150 abc' then '1000 abc', got '${first}' then '${second}'")
endif()
message(STATUS "first run: ${first}second run: ${second}")

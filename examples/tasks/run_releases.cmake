# Release 1 saves its tasks; release 2 loads them through the renamed member,
# the widening and the migration, and saves the new layout.
#   -DV1=<tasks_v1> -DV2=<tasks_v2> -DDIR=<scratch database>
cmake_minimum_required(VERSION 3.25)  # script mode: current policies
file(REMOVE_RECURSE ${DIR})
foreach(step "${V1}" "${V2}")
  execute_process(COMMAND ${step} ${DIR} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${step} failed (exit ${rc}):\n${out}${err}")
  endif()
  string(APPEND all "${out}")
endforeach()
set(expected "[x] write the README (priority 2)
[ ] ship release 2 (priority 1)
[x] write the README (priority 2, tags: imported)
[ ] ship release 2 (priority 1, tags: imported)
")
if(NOT all STREQUAL expected)
  message(FATAL_ERROR "unexpected output:\n${all}\nexpected:\n${expected}")
endif()
file(REMOVE_RECURSE ${DIR})

# Runs the nine releases of the evolution program in sequence against one
# database (see check.h): each reads what the older ones wrote, then writes
# its own snapshot; each checks every stored snapshot; an older release
# refuses a snapshot whose types it cannot read, and changes nothing.
#   -DBIN_DIR=<dir of evolve_v1..9> -DWORK_DIR=<scratch>
cmake_minimum_required(VERSION 3.25)  # script mode: current policies
file(REMOVE_RECURSE ${WORK_DIR})
set(db ${WORK_DIR}/db)

function(step version command)
  execute_process(COMMAND ${BIN_DIR}/evolve_v${version} ${db} ${command} ${ARGN}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "evolution test: v${version} ${command} ${ARGN} failed (exit ${rc}):\n${out}${err}")
  endif()
  message(STATUS "v${version} ${command}:\n${out}")
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

# Every stored snapshot, each in a fresh process, through release v's types.
function(check_all version)
  step(${version} ids)
  set(ids "${last_output}")
  set(all "")
  foreach(id IN LISTS ids)
    if(NOT id STREQUAL "")
      step(${version} check ${id})
      string(APPEND all "${last_output}")
    endif()
  endforeach()
  set(last_output "${all}" PARENT_SCOPE)
endfunction()

step(1 write)
step(1 check)
foreach(v 2 3 4 5)
  step(${v} check)  # the newest snapshot, written by the previous release
  step(${v} write)
  check_all(${v})
endforeach()
set(all_by_v5 "${last_output}")

# A newer snapshot with a compatible schema: v4 reads v5's (a removed member).
step(4 check)

# v5 changed shop::items and shop::page_views incompatibly for v3 (v4's
# migration and widening): v3 refuses, naming a ref and both versions.
execute_process(COMMAND ${BIN_DIR}/evolve_v3 ${db} check RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "cannot restore ref 'shop::(items|page_views)'"
   OR NOT err MATCHES "schema version 2 of this state, this build reads versions 1:"
   OR NOT err MATCHES "written by a newer build")
  message(FATAL_ERROR "evolution test: v3 should refuse v5's snapshot with the documented error, got exit ${rc}:\n"
                      "${out}${err}")
endif()
message(STATUS "v3 check (refused, as documented):\n${err}")

# Nothing was touched: v5 still reads exactly what it read before.
check_all(5)
if(NOT last_output STREQUAL all_by_v5)
  message(FATAL_ERROR "evolution test: the refused load changed the database:\nbefore:\n${all_by_v5}after:\n"
                      "${last_output}")
endif()

# Release 6 changes Item again: snapshots of releases 1 to 3 go through two
# migrations, those of 4 and 5 through one.
step(6 check)
step(6 write)
check_all(6)

# Release 7 adds a std::map state; release 8 switches it to a pmap and the
# items from std::vector to pvector (compatible), and changes Money, an
# element of both, with a migration applied to every element on load.
foreach(v 7 8)
  step(${v} check)
  step(${v} write)
  check_all(${v})
endforeach()

# Release 9 switches a member of a struct state (Stats::code) from
# std::vector to pvector, compatibly: it reads every older snapshot, and its
# save stores the member node by node (ChunkedMembers).
step(9 check)
step(9 write)
check_all(9)
set(all_by_v9 "${last_output}")

# Release 8 cannot read a member stored node by node: it refuses release 9's
# snapshot, naming the ref and the member, and changes nothing.
execute_process(COMMAND ${BIN_DIR}/evolve_v8 ${db} check RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "cannot restore ref 'shop::stats'"
   OR NOT err MATCHES "member 'value.code' is stored node by node")
  message(FATAL_ERROR "evolution test: v8 should refuse v9's snapshot naming shop::stats and its member, got exit "
                      "${rc}:\n${out}${err}")
endif()
message(STATUS "v8 check (refused, as documented):\n${err}")
check_all(9)
if(NOT last_output STREQUAL all_by_v9)
  message(FATAL_ERROR "evolution test: the refused load changed the database:\nbefore:\n${all_by_v9}after:\n"
                      "${last_output}")
endif()

# The `instadump` tool against stores written by cli_states, by the eight
# evolution releases and by the counter example: each command's stdout,
# stderr and exit status, compared with golden/<case>.txt (creation times
# and the scratch directory masked). With -DUPDATE=1 (INSTADUMP_UPDATE_GOLDEN=1
# in the environment of ctest) the golden files are rewritten instead.
#   -DTOOL=<instadump> -DSTATES=<cli_states> -DEVOLVE_DIR=<dir of evolve_vN>
#   -DCOUNTER=<counter or empty> -DGOLDEN=<dir> -DWORK_DIR=<scratch>
cmake_minimum_required(VERSION 3.25)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(failures "")

function(run_program)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cli golden: ${ARGN} failed (exit ${rc}):\n${out}${err}")
  endif()
endfunction()

# check(<case> <tool arguments>...): runs the tool, compares with golden/<case>.txt.
function(check name)
  execute_process(COMMAND ${TOOL} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  string(REPLACE ";" " " args "${ARGN}")
  set(text "$ instadump ${args}\n${out}")
  if(NOT err STREQUAL "")
    string(APPEND text "[stderr]\n${err}")
  endif()
  string(APPEND text "[exit ${rc}]\n")
  string(REPLACE "${WORK_DIR}" "<work>" text "${text}")
  string(REGEX REPLACE "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\\.[0-9][0-9][0-9]Z"
         "<time>" text "${text}")
  if(UPDATE OR "$ENV{INSTADUMP_UPDATE_GOLDEN}")
    file(WRITE ${GOLDEN}/${name}.txt "${text}")
    return()
  endif()
  if(NOT EXISTS ${GOLDEN}/${name}.txt)
    set(failures "${failures}\n${name}: no golden file (run with INSTADUMP_UPDATE_GOLDEN=1)" PARENT_SCOPE)
    return()
  endif()
  file(READ ${GOLDEN}/${name}.txt expected)
  if(NOT text STREQUAL expected)
    file(WRITE ${WORK_DIR}/${name}.actual.txt "${text}")
    set(failures "${failures}\n${name}: differs from golden/${name}.txt; got (also in ${WORK_DIR}/${name}.actual.txt):\n${text}"
        PARENT_SCOPE)
  endif()
endfunction()

# Every kind of value, two snapshots.
set(db ${WORK_DIR}/states)
run_program(${STATES} golden ${db})
check(states-ls ls ${db})
check(states-show show ${db})
check(states-show-1 show ${db} --snapshot 1)
check(states-show-keys-json show ${db} clitest::motto clitest::not_utf8 clitest::numbers_special --json)
check(states-export export ${db})
check(states-verify verify ${db})
check(states-diff diff ${db} 1 2)

# Eight releases of one program: every snapshot decoded with the schema it
# was written with (renamed members, changed types, a map turned pmap).
set(evo ${WORK_DIR}/evolution)
foreach(v 1 2 3 4 5 6 7 8)
  run_program(${EVOLVE_DIR}/evolve_v${v} ${evo} write)
endforeach()
check(evolution-ls ls ${evo})
foreach(id 1 2 3 4 5 6 7 8)
  check(evolution-show-${id} show ${evo} --snapshot ${id})
endforeach()
check(evolution-export-8 export ${evo} --snapshot 8)
check(evolution-diff diff ${evo} 7 8)
check(evolution-verify verify ${evo})

if(COUNTER)
  set(counter ${WORK_DIR}/counter)
  run_program(${COUNTER} ${counter})
  run_program(${COUNTER} ${counter})
  check(counter-show show ${counter})
endif()

# Refusals: one line on stderr, exit status 2.
check(error-no-such-dir show ${WORK_DIR}/missing)
file(MAKE_DIRECTORY ${WORK_DIR}/empty)
check(error-not-a-store ls ${WORK_DIR}/empty)
check(error-unknown-snapshot show ${db} --snapshot 99)
check(error-unknown-key show ${db} clitest::nothing)
check(error-usage show)

if(NOT failures STREQUAL "")
  message(FATAL_ERROR "cli golden:${failures}")
endif()

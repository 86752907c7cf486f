# Diagnostics of instadump-codegen: each diagnostics/<name>.cpp holds
# unsupported constructs marked `// expect-error: <message part>` on the line
# where the error must be reported (in that file or a header it includes).
# The tool must exit with 1 and print `file:line:col: error: ...` containing
# that text at each marked line, and no other error. Also checks exit code 2
# for a usage error.  -DTOOL=<instadump-codegen> -DSOURCE_DIR=<tests/codegen> -DWORK_DIR=<scratch>
cmake_minimum_required(VERSION 3.25)  # script mode: current policies
set(dir ${SOURCE_DIR}/diagnostics)
file(GLOB inputs ${dir}/*.cpp)
list(SORT inputs)
file(REMOVE_RECURSE ${WORK_DIR})
set(failures "")
foreach(input IN LISTS inputs)
  get_filename_component(name ${input} NAME_WE)
  execute_process(
    COMMAND ${TOOL} --target=t --schema-out=${WORK_DIR}/${name}.capnp --codec-out=${WORK_DIR}/${name}.h ${input}
            -- -std=c++20 -I${SOURCE_DIR}
    RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_VARIABLE out)
  if(NOT rc EQUAL 1)
    string(APPEND failures "${name}: expected exit code 1, got ${rc}\n${err}\n")
    continue()
  endif()
  # Expected errors: from the input and the headers next to it that it includes.
  set(expected_count 0)
  file(GLOB candidates ${dir}/${name}.cpp ${dir}/${name}.h)
  foreach(file IN LISTS candidates)
    file(STRINGS ${file} lines)
    set(line_no 0)
    foreach(line IN LISTS lines)
      math(EXPR line_no "${line_no} + 1")
      if(line MATCHES "// expect-error: (.*)$")
        set(text "${CMAKE_MATCH_1}")
        math(EXPR expected_count "${expected_count} + 1")
        string(FIND "${err}" "${file}:${line_no}:" at)
        if(at EQUAL -1)
          string(APPEND failures "${name}: no error reported at ${file}:${line_no}\n${err}\n")
          continue()
        endif()
        string(SUBSTRING "${err}" ${at} -1 rest)
        string(FIND "${rest}" "\n" eol)
        string(SUBSTRING "${rest}" 0 ${eol} reported)
        string(FIND "${reported}" ": error: " is_error)
        string(FIND "${reported}" "${text}" has_text)
        if(is_error EQUAL -1 OR has_text EQUAL -1)
          string(APPEND failures "${name}: at line ${line_no} expected an error containing\n  ${text}\ngot\n  ${reported}\n")
        endif()
      endif()
    endforeach()
  endforeach()
  string(REGEX MATCHALL ": error: " errors "${err}")
  list(LENGTH errors error_count)
  if(NOT error_count EQUAL expected_count)
    string(APPEND failures "${name}: expected ${expected_count} errors, got ${error_count}:\n${err}\n")
  endif()
endforeach()

# Errors across files: diagnostics/multi/<name>_a.cpp and <name>_b.cpp scanned in one run.
foreach(pair "conflict;conflict_b.cpp:4:8: error: cannot persist second: two different types are named '::Item'"
             "duplicate;duplicate_b.cpp:4:42: error: state 'counter' is defined twice (also at ")
  list(GET pair 0 name)
  list(GET pair 1 text)
  execute_process(
    COMMAND ${TOOL} --target=t --schema-out=${WORK_DIR}/${name}.capnp --codec-out=${WORK_DIR}/${name}_a.h
            --codec-out=${WORK_DIR}/${name}_b.h ${dir}/multi/${name}_a.cpp ${dir}/multi/${name}_b.cpp
            -- -std=c++20 -I${SOURCE_DIR}
    RESULT_VARIABLE rc ERROR_VARIABLE err)
  string(FIND "${err}" "${text}" at)
  if(NOT rc EQUAL 1 OR at EQUAL -1)
    string(APPEND failures "multi/${name}: expected exit code 1 and\n  ${text}\ngot exit ${rc}:\n${err}\n")
  endif()
endforeach()

execute_process(COMMAND ${TOOL} ${dir}/not_a_ref.cpp -- -std=c++20 RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 2 OR NOT err MATCHES "--target=<name> is required")
  string(APPEND failures "usage error: expected exit code 2 and a message about --target, got ${rc}: ${err}\n")
endif()
if(failures)
  message(FATAL_ERROR "${failures}")
endif()
message(STATUS "diagnostics ok: ${inputs}")

# The build steps of instadump_add_state (InstadumpState.cmake), run with
# `cmake -P` by the build, not by users:
#
#   -DSTEP=detect -DTARGET=<t> -P InstadumpScanSteps.cmake -- <compile command>
#       The compiler launcher of the hidden <t>_instadump_scan library: runs
#       the compile command as `-E` (preprocessing only, into the object
#       file), looks in the text for [[instadump::state]] (also when a macro
#       spells it, or [[using instadump: state]]) and for the schema history
#       header (which the file defining a migration includes), then leaves in
#       the object one line: "scan <source>" or "none <source>".
#   -DSTEP=plan -DARGUMENTS=<scan_arguments.cmake> -DOBJECTS=<objects> -P ...
#       Writes the list of sources to scan (only when it changes), and fails
#       the build for a state in a C++ source of the target that is not
#       scanned.
#   -DSTEP=generate -DARGUMENTS=<scan_arguments.cmake> -DTOOL=<instadump-codegen> -P ...
#       Runs instadump-codegen over the listed sources; writes an empty codec
#       (only when it changes) for every other scanned source.
cmake_minimum_required(VERSION 3.28)

# A [[instadump::state]], in a text where lines may have been split.
set(state_attribute "instadump[ \t]*::[ \t]*state([^A-Za-z0-9_]|$)|using[ \t]+instadump[ \t]*:[^:]")
# The attributes instadump-codegen knows (others are typos it would ignore).
set(known_attributes state renamed_from persist_private)

# Prints the arguments, concatenated, as an error and stops.
function(fail)
  set(text "")
  math(EXPR last "${ARGC} - 1")
  foreach(i RANGE 0 ${last})
    string(APPEND text "${ARGV${i}}")  # (not ${ARGV}: a list, which brackets in the text confuse)
  endforeach()
  message("instadump_add_state(${TARGET}): error: ${text}")
  if(CMAKE_VERSION VERSION_GREATER_EQUAL 3.29)
    cmake_language(EXIT 1)
  endif()
  message(FATAL_ERROR "instadump_add_state(${TARGET}) failed")
endfunction()

# Writes `content` to `path` unless it holds it already (so that the build
# sees no change).
function(write_if_changed path content)
  if(EXISTS ${path})
    file(READ ${path} old)
    if(old STREQUAL content)
      return()
    endif()
  endif()
  file(WRITE ${path} "${content}")
endfunction()

function(detect)
  set(command)
  set(after_separator OFF)
  math(EXPR last "${CMAKE_ARGC} - 1")
  foreach(i RANGE 1 ${last})
    if(after_separator)
      list(APPEND command "${CMAKE_ARGV${i}}")
    elseif(CMAKE_ARGV${i} STREQUAL "--")
      set(after_separator ON)
    endif()
  endforeach()
  list(FIND command -o at)
  list(FIND command -c at_source)
  if(at EQUAL -1 OR at_source EQUAL -1)
    fail("the scan's compile command has no -o or -c: ${command}")
  endif()
  math(EXPR at "${at} + 1")
  math(EXPR at_source "${at_source} + 1")
  list(GET command ${at} object)
  list(GET command ${at_source} source)

  # -w: the compile of the target itself reports the warnings.
  execute_process(COMMAND ${command} -E -w RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message("${err}")
    if(err MATCHES "'${TARGET}\\.capnp\\.h' file not found")
      fail("${source} includes ${TARGET}.capnp.h, which is generated from the scan, so it cannot be scanned; list "
           "the sources to scan (those that define the states) with instadump_add_state(${TARGET} SOURCES ...)")
    endif()
    fail("preprocessing ${source} for the scan failed (exit ${rc})")
  endif()

  # Only lines that may matter: the attribute may span two lines.
  string(REGEX REPLACE "([][+.*()^$?|\\])" "\\\\\\1" history_header "${TARGET}_schema_history.h")
  file(STRINGS ${object} lines REGEX "instadump|^[ \t]*state|^# [0-9]+ \".*/${history_header}\"")
  set(verdict none)
  # (As one string: CMake does not split a list at a ';' inside brackets.)
  string(REPLACE ";" " " text "${lines}")
  if(text MATCHES "${state_attribute}" OR text MATCHES "/${history_header}\"")
    set(verdict scan)
  endif()
  # The compile of a scanned source does not warn about unknown attributes:
  # a misspelled instadump attribute is reported here instead.
  string(REGEX MATCHALL "\\[\\[[^]]*instadump[ \t]*::[ \t]*[A-Za-z_][A-Za-z0-9_]*" uses "${text}")
  string(REPLACE "[" "" uses "${uses}")
  foreach(use IN LISTS uses)
    string(REGEX REPLACE ".*::[ \t]*" "" name "${use}")
    if(NOT name IN_LIST known_attributes)
      message("${source}: warning: unknown attribute 'instadump::${name}' ignored (in this file or a header it "
              "includes); Instadump knows [[instadump::state]], [[instadump::renamed_from(\"old\")]] and "
              "[[instadump::persist_private]]")
    endif()
  endforeach()
  file(WRITE ${object} "${verdict} ${source}\n")
endfunction()

# The text of `file` without its comments, newlines kept (so that line
# numbers stay right). A `//` inside a string literal ends the line early,
# which can only hide an attribute after it on that line.
function(read_without_comments file out)
  file(READ ${file} content)
  string(REGEX REPLACE "//[^\n]*" "" content "${content}")
  set(result "")
  while(TRUE)
    string(FIND "${content}" "/*" open)
    if(open EQUAL -1)
      break()
    endif()
    string(SUBSTRING "${content}" 0 ${open} before)
    math(EXPR body "${open} + 2")
    string(SUBSTRING "${content}" ${body} -1 content)
    string(FIND "${content}" "*/" close)
    if(close EQUAL -1)
      set(content "")
      break()
    endif()
    string(SUBSTRING "${content}" 0 ${close} comment)
    string(REGEX REPLACE "[^\n]" "" comment "${comment}")
    string(APPEND result "${before}${comment}")
    math(EXPR after "${close} + 2")
    string(SUBSTRING "${content}" ${after} -1 content)
  endwhile()
  set(${out} "${result}${content}" PARENT_SCOPE)
endfunction()

# Sets `out` to "<file>:<line>: <text>" of the first state in `file`, or ""
# when it has none.
function(first_state_line file out)
  read_without_comments(${file} content)
  set(${out} "" PARENT_SCOPE)
  string(REGEX MATCH "${state_attribute}" match "${content}")
  if(NOT match)
    return()
  endif()
  string(FIND "${content}" "${match}" at)
  string(SUBSTRING "${content}" 0 ${at} before)
  string(REGEX MATCHALL "\n" newlines "${before}")
  list(LENGTH newlines line)
  math(EXPR line "${line} + 1")
  string(FIND "${before}" "\n" line_start REVERSE)
  math(EXPR line_start "${line_start} + 1")
  string(SUBSTRING "${content}" ${line_start} -1 text)
  string(FIND "${text}" "\n" line_end)
  string(SUBSTRING "${text}" 0 ${line_end} text)
  string(STRIP "${text}" text)
  set(${out} "${file}:${line}: ${text}" PARENT_SCOPE)
endfunction()

function(plan)
  include(${ARGUMENTS})
  set(with_states)
  foreach(object IN LISTS OBJECTS)
    file(STRINGS ${object} verdict LIMIT_COUNT 1)
    if(verdict MATCHES "^scan (.*)$")
      list(APPEND with_states ${CMAKE_MATCH_1})
    endif()
  endforeach()

  # Every other C++ source of the target: the ones left out of SOURCES and
  # any added after instadump_add_state collected them.
  file(STRINGS ${TARGET_SOURCES_LIST} target_sources)
  set(found "")
  foreach(s IN LISTS target_sources)
    get_filename_component(abs ${s} ABSOLUTE BASE_DIR ${TARGET_SOURCE_DIR})
    string(FIND "${abs}" "${GENERATED_DIR}/" in_generated)
    if(NOT abs MATCHES "\\.(cpp|cc|cxx|c\\+\\+|C)$" OR abs IN_LIST SCANNED_SOURCES OR in_generated EQUAL 0
       OR NOT EXISTS ${abs})
      continue()
    endif()
    file(STRINGS ${abs} hits REGEX "instadump" LIMIT_COUNT 1)
    if(hits)
      first_state_line(${abs} where)
      if(where)
        string(APPEND found "\n  ${where}")
      endif()
    endif()
  endforeach()
  if(found)
    fail("a source of '${TARGET}' that instadump_add_state does not scan defines a state, which would never be "
         "saved:${found}\nScan it: list it in SOURCES if you pass SOURCES, and add it to the target in the directory "
         "that calls instadump_add_state (a source added from another directory after that one has ended is not "
         "scanned).")
  endif()

  list(JOIN with_states "\n" text)
  write_if_changed(${PLAN} "${text}\n")
endfunction()

function(generate)
  include(${ARGUMENTS})
  file(STRINGS ${PLAN} with_states)
  set(sources)
  foreach(s IN LISTS SCANNED_SOURCES)
    if(s IN_LIST with_states)
      list(APPEND sources ${s})
    endif()
  endforeach()
  if(NOT sources)
    # No state left: the tool still writes the schema and records in the
    # history that the states are gone.
    list(GET SCANNED_SOURCES 0 sources)
  endif()
  set(codec_args)
  foreach(s codec IN ZIP_LISTS SCANNED_SOURCES CODECS)
    if(s IN_LIST sources)
      list(APPEND codec_args --codec-out=${codec})
    else()
      write_if_changed(${codec} "// Generated by instadump_add_state(${TARGET}): ${s}\n// defines no state.\n")
    endif()
  endforeach()
  execute_process(COMMAND ${TOOL} ${TOOL_ARGUMENTS} ${codec_args} ${sources} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    if(CMAKE_VERSION VERSION_GREATER_EQUAL 3.29)
      cmake_language(EXIT ${rc})
    endif()
    message(FATAL_ERROR "instadump-codegen failed (exit ${rc})")
  endif()
endfunction()

if(STEP STREQUAL "detect")
  detect()
elseif(STEP STREQUAL "plan")
  plan()
elseif(STEP STREQUAL "generate")
  generate()
else()
  message(FATAL_ERROR "InstadumpScanSteps.cmake: STEP must be detect, plan or generate, not '${STEP}'")
endif()

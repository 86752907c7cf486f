# Golden and determinism checks of instadump-codegen (run by ctest, and by
# scripts/update-golden with -DUPDATE=ON).
#   -DTOOL=<instadump-codegen> -DSOURCE_DIR=<tests/codegen> -DWORK_DIR=<scratch>
#   [-DUPDATE=ON]  rewrite golden/expected from the current tool instead of comparing
#   [-DCAPNP=<capnp>]  also check that every schema (the target's, and each
#                      state's schema stored with snapshots) compiles
# For each golden/inputs/<name>.cpp the tool writes <name>.capnp and
# <name>.codec.h; absolute paths of the inputs are replaced by @INPUTS@.
# Every input is generated twice, into two directories, and both runs must be
# byte-identical (determinism).
cmake_minimum_required(VERSION 3.25)  # script mode: current policies
set(inputs_dir ${SOURCE_DIR}/golden/inputs)
set(expected_dir ${SOURCE_DIR}/golden/expected)
file(GLOB inputs RELATIVE ${inputs_dir} ${inputs_dir}/*.cpp)
list(SORT inputs)
file(REMOVE_RECURSE ${WORK_DIR})
set(failures "")
foreach(input IN LISTS inputs)
  get_filename_component(name ${input} NAME_WE)
  foreach(run a b)
    set(out ${WORK_DIR}/${run})
    execute_process(
      COMMAND ${TOOL} --target=${name} --schema-out=${out}/${name}.capnp --codec-out=${out}/${name}.codec.h
              ${inputs_dir}/${input} -- -std=c++20 -I${SOURCE_DIR}
      RESULT_VARIABLE rc ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "instadump-codegen failed on ${input} (exit ${rc}):\n${err}")
    endif()
  endforeach()
  if(CAPNP)
    # The schema of the target, then each state's stored schema (raw strings in the codec).
    set(schemas ${WORK_DIR}/a/${name}.capnp)
    file(READ ${WORK_DIR}/a/${name}.codec.h codec)
    set(index 0)
    while(TRUE)
      string(FIND "${codec}" "R\"instadump(" begin)
      if(begin EQUAL -1)
        break()
      endif()
      math(EXPR begin "${begin} + 12")  # length of R"instadump(
      string(SUBSTRING "${codec}" ${begin} -1 codec)
      string(FIND "${codec}" ")instadump\"" end)
      string(SUBSTRING "${codec}" 0 ${end} text)
      file(WRITE ${WORK_DIR}/${name}_state${index}.capnp "${text}")
      list(APPEND schemas ${WORK_DIR}/${name}_state${index}.capnp)
      math(EXPR index "${index} + 1")
    endwhile()
    foreach(schema IN LISTS schemas)
      execute_process(COMMAND ${CAPNP} compile -o- ${schema} RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
      if(NOT rc EQUAL 0)
        string(APPEND failures "${schema} does not compile:\n${err}\n")
      endif()
    endforeach()
  endif()
  foreach(ext capnp codec.h)
    file(READ ${WORK_DIR}/a/${name}.${ext} first)
    file(READ ${WORK_DIR}/b/${name}.${ext} second)
    if(NOT first STREQUAL second)
      string(APPEND failures "not deterministic: two runs gave different ${name}.${ext}\n")
    endif()
    string(REPLACE "${inputs_dir}" "@INPUTS@" actual "${first}")
    if(UPDATE)
      file(WRITE ${expected_dir}/${name}.${ext} "${actual}")
    elseif(NOT EXISTS ${expected_dir}/${name}.${ext})
      string(APPEND failures "missing golden file golden/expected/${name}.${ext}\n")
    else()
      file(READ ${expected_dir}/${name}.${ext} expected)
      if(NOT expected STREQUAL actual)
        file(WRITE ${WORK_DIR}/${name}.${ext}.actual "${actual}")
        string(APPEND failures "${name}.${ext} differs from golden/expected/${name}.${ext}: see "
                               "${WORK_DIR}/${name}.${ext}.actual; if the change is intended, run scripts/update-golden\n")
      endif()
    endif()
  endforeach()
endforeach()
if(failures)
  message(FATAL_ERROR "${failures}")
endif()
message(STATUS "${CMAKE_CURRENT_LIST_FILE}: ${inputs} ok")

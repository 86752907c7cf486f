# Installs this build of Instadump into a temporary prefix, then configures,
# builds and runs (a copy of) tests/consumer/project against the installed
# package (find_package(Instadump CONFIG)) from an empty build directory.
# Then checks incremental regeneration: a no-op build does nothing, touching
# a header of a scanned source re-runs the scan but not capnp compile (the
# schema is unchanged), changing a state type regenerates the schema, and the
# old snapshot is then refused with the documented error.
#   -DCMAKE_EXE=<cmake> -DBUILD_DIR=<instadump build> -DPROJECT_DIR=<tests/consumer/project>
#   -DWORK_DIR=<scratch> -DCXX=<clang++-19> -DCONFIG=<build type>
cmake_minimum_required(VERSION 3.25)  # script mode: current policies
file(REMOVE_RECURSE ${WORK_DIR})
function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer test: ${what} failed (exit ${rc}):\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

run("install" ${CMAKE_EXE} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
file(COPY ${PROJECT_DIR}/ DESTINATION ${WORK_DIR}/src)
run("configure" ${CMAKE_EXE} -S ${WORK_DIR}/src -B ${WORK_DIR}/build -G Ninja -DCMAKE_CXX_COMPILER=${CXX}
    -DCMAKE_BUILD_TYPE=${CONFIG} -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
run("build" ${CMAKE_EXE} --build ${WORK_DIR}/build -j 1)
run("first run" ${WORK_DIR}/build/shop ${WORK_DIR}/db)
set(first "${last_output}")
run("second run" ${WORK_DIR}/build/shop ${WORK_DIR}/db)
set(second "${last_output}")
if(NOT first STREQUAL "visits=150 apples=-1 mode=idle\n" OR NOT second STREQUAL "visits=151 apples=10 mode=busy\n")
  message(FATAL_ERROR "consumer test: unexpected output:\n${first}${second}")
endif()

function(build_expect what)
  cmake_parse_arguments(ARG "" "" "HAS;HAS_NOT" ${ARGN})
  run("${what}" ${CMAKE_EXE} --build ${WORK_DIR}/build -j 1)
  foreach(text IN LISTS ARG_HAS)
    string(FIND "${last_output}" "${text}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "consumer test: ${what}: expected '${text}' in the build output:\n${last_output}")
    endif()
  endforeach()
  foreach(text IN LISTS ARG_HAS_NOT)
    string(FIND "${last_output}" "${text}" at)
    if(NOT at EQUAL -1)
      message(FATAL_ERROR "consumer test: ${what}: did not expect '${text}' in the build output:\n${last_output}")
    endif()
  endforeach()
endfunction()

build_expect("no-op build" HAS "no work to do")
file(TOUCH ${WORK_DIR}/src/state.h)
build_expect("build after touching state.h" HAS "instadump-codegen: scanning shop" HAS_NOT "capnp compile")
file(READ ${WORK_DIR}/src/state.h header)
string(REPLACE "std::vector<std::string> tags;" "std::vector<std::string> tags;\n  std::string note;" header "${header}")
file(WRITE ${WORK_DIR}/src/state.h "${header}")
build_expect("build after adding a member" HAS "instadump-codegen: scanning shop;capnp compile shop.capnp")
execute_process(COMMAND ${WORK_DIR}/build/shop ${WORK_DIR}/db RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
if(rc EQUAL 0 OR NOT err MATCHES "shop::stock: the snapshot holds schema")
  message(FATAL_ERROR "consumer test: loading a snapshot of the old type should fail naming shop::stock, got "
                      "exit ${rc}:\n${err}")
endif()
message(STATUS "consumer test passed:\n${first}${second}")
file(REMOVE_RECURSE ${WORK_DIR})

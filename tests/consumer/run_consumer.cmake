# Installs this build of Instadump into a temporary prefix, then configures,
# builds and runs tests/consumer/project against the installed package
# (find_package(Instadump CONFIG)) from an empty build directory.
#   -DCMAKE_EXE=<cmake> -DBUILD_DIR=<instadump build> -DPROJECT_DIR=<tests/consumer/project>
#   -DWORK_DIR=<scratch> -DCXX=<clang++-19> -DCONFIG=<build type>
file(REMOVE_RECURSE ${WORK_DIR})
function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer test: ${what} failed (exit ${rc}):\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

run("install" ${CMAKE_EXE} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
run("configure" ${CMAKE_EXE} -S ${PROJECT_DIR} -B ${WORK_DIR}/build -G Ninja -DCMAKE_CXX_COMPILER=${CXX}
    -DCMAKE_BUILD_TYPE=${CONFIG} -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
run("build" ${CMAKE_EXE} --build ${WORK_DIR}/build -j 1)
run("first run" ${WORK_DIR}/build/shop ${WORK_DIR}/db)
set(first "${last_output}")
run("second run" ${WORK_DIR}/build/shop ${WORK_DIR}/db)
set(second "${last_output}")
if(NOT first STREQUAL "visits=150 apples=-1 mode=idle\n" OR NOT second STREQUAL "visits=151 apples=10 mode=busy\n")
  message(FATAL_ERROR "consumer test: unexpected output:\n${first}${second}")
endif()
message(STATUS "consumer test passed:\n${first}${second}")
file(REMOVE_RECURSE ${WORK_DIR})

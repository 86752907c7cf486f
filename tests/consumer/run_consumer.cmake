# Installs this build of Instadump into a temporary prefix, then configures,
# builds and runs (a copy of) tests/consumer/shop against the installed
# package (find_package(Instadump CONFIG)) from an empty build directory.
# Then checks incremental regeneration: a no-op build does nothing, touching
# a header of a scanned source re-runs the scan but not capnp compile (the
# schema is unchanged), adding a member extends the schema history and the
# old snapshot still loads, changing a member's type fails the build with the
# signature of the migration to write, which then converts the old snapshot,
# and in locked mode a change to the history fails the build.
#   -DCMAKE_EXE=<cmake> -DBUILD_DIR=<instadump build> -DPROJECT_DIR=<tests/consumer/shop>
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

# Replaces `from` by `to` in a file of the copied project.
function(edit file from to)
  file(READ ${WORK_DIR}/src/${file} text)
  string(REPLACE "${from}" "${to}" text "${text}")
  file(WRITE ${WORK_DIR}/src/${file} "${text}")
endfunction()

# A build that must fail and print every HAS text; ENV: variables for the build.
function(build_fails what)
  cmake_parse_arguments(ARG "" "" "HAS;ENV" ${ARGN})
  execute_process(COMMAND ${CMAKE_COMMAND} -E env ${ARG_ENV} ${CMAKE_EXE} --build ${WORK_DIR}/build -j 1
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  foreach(text IN LISTS ARG_HAS)
    string(FIND "${out}${err}" "${text}" at)
    if(rc EQUAL 0 OR at EQUAL -1)
      message(FATAL_ERROR "consumer test: ${what} should fail the build naming '${text}', got exit ${rc}:\n"
                          "${out}${err}")
    endif()
  endforeach()
endfunction()

# The first build wrote the schema history, which the history header is
# generated from: the next build regenerates it (unchanged, so nothing else
# runs), and the one after that has nothing to do.
build_expect("build after the history was written" HAS "shop_schema_history.h" HAS_NOT "capnp compile")
build_expect("no-op build" HAS "no work to do")
file(TOUCH ${WORK_DIR}/src/state.h)
build_expect("build after touching state.h" HAS "instadump-codegen: scanning shop" HAS_NOT "capnp compile")
edit(state.h "std::vector<std::string> tags;" "std::vector<std::string> tags;\n  std::string note;")
build_expect("build after adding a member" HAS "instadump-codegen: scanning shop;capnp compile shop.capnp")
if(NOT EXISTS ${WORK_DIR}/src/shop.schema-history.json)
  message(FATAL_ERROR "consumer test: the schema history was not written next to CMakeLists.txt")
endif()
run("run after adding a member" ${WORK_DIR}/build/shop ${WORK_DIR}/db)
if(NOT last_output STREQUAL "visits=152 apples=20 mode=busy\n")
  message(FATAL_ERROR "consumer test: the snapshot of the older type should load, got:\n${last_output}")
endif()

# An incompatible change: the build stops and names the migration to write.
edit(state.h "int64_t qty = 0;" "std::string qty;")
edit(main.cpp "apple->second.qty" "std::stoll(apple->second.qty)")
edit(main.cpp "s[\"apple\"].qty += 10;" "s[\"apple\"].qty = \"30 pcs\";")
build_fails("changing a member's type"
            HAS "instadump::schema::v2::Item instadump::schema::migrate(const instadump::schema::v1::Item& old)")
file(APPEND ${WORK_DIR}/src/state.cpp "
#include \"shop_schema_history.h\"
instadump::schema::v2::Item instadump::schema::migrate(const instadump::schema::v1::Item& old) {
  return Item{old.name, std::to_string(old.qty) + \" pcs\", old.price, old.tags, old.note};
}
")
build_expect("build with the migration" HAS "instadump-codegen: scanning shop")
run("run with the migration" ${WORK_DIR}/build/shop ${WORK_DIR}/db)
if(NOT last_output STREQUAL "visits=153 apples=30 mode=busy\n")
  message(FATAL_ERROR "consumer test: the migration should convert the stored quantity, got:\n${last_output}")
endif()

# Locked mode: a change to the history fails the build instead.
edit(state.h "std::string note;" "std::string note;\n  int rating = 0;")
build_fails("in locked mode, a new member" ENV INSTADUMP_LOCKED=1
            HAS "locked mode (INSTADUMP_LOCKED): the schema history" "new member Item::rating")
message(STATUS "consumer test passed:\n${first}${second}")
file(REMOVE_RECURSE ${WORK_DIR})

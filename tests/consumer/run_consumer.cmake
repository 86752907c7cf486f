# Builds (copies of) the consumer projects shop/ and plugins/ out of tree, in
# a fresh build directory, the way a user integrates Instadump:
#   MODE=installed  installs this build into a temporary prefix; the project
#                   root installed/ finds it with find_package;
#   MODE=vendored   the project root vendored/ builds this checkout with
#                   add_subdirectory (as a user's third_party/instadump).
# Then runs each program twice on one directory: the second run must print
# what the first saved. The plugins host checks itself that its states --
# in the executable, a static library, a shared library and a module it
# dlopens after setup() -- share one runtime and come back together.
#
# In installed mode it then changes the shop project step by step: a no-op
# build does nothing; touching a header of a scanned source re-runs the scan
# but not capnp compile (the schema is unchanged); an edit of a file without
# states runs no scan; a misspelled instadump attribute is reported; a state
# in a source left out of SOURCES fails the build; adding a member extends
# the schema history and the old snapshot still loads; changing a member's
# type fails the build with the signature of the migration to write, which
# then converts the old snapshot; in locked mode a change to the history
# fails the build.
#   -DMODE=installed|vendored -DCMAKE_EXE=<cmake> -DCONSUMER_DIR=<tests/consumer>
#   -DBUILD_DIR=<instadump build> (installed) -DSOURCE_DIR=<instadump checkout> (vendored)
#   -DWORK_DIR=<scratch> -DCXX=<clang++-19> -DCONFIG=<build type>
#   [-DCONFIG_FLAGS=<that build type's CMAKE_CXX_FLAGS_<CONFIG>>] [-DJOBS=<n>]
cmake_minimum_required(VERSION 3.25)  # script mode: current policies
if(NOT JOBS)
  set(JOBS 2)
endif()
file(REMOVE_RECURSE ${WORK_DIR})
function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer test (${MODE}): ${what} failed (exit ${rc}):\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
  set(last_errors "${err}" PARENT_SCOPE)
endfunction()

# Runs <program> twice on a fresh directory and compares both outputs.
function(run_twice program first_expected second_expected)
  get_filename_component(name ${program} NAME)
  set(db ${WORK_DIR}/${name}-db)
  run("first run of ${name}" ${program} ${db})
  set(first "${last_output}")
  run("second run of ${name}" ${program} ${db})
  if(NOT first STREQUAL first_expected OR NOT last_output STREQUAL second_expected)
    message(FATAL_ERROR "consumer test (${MODE}): ${name}: expected\n${first_expected}${second_expected}got\n"
                        "${first}${last_output}")
  endif()
  message(STATUS "${name}:\n${first}${last_output}")
endfunction()

set(src ${WORK_DIR}/src)
set(build ${WORK_DIR}/build)
if(MODE STREQUAL "installed")
  run("install" ${CMAKE_EXE} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
  file(COPY ${CONSUMER_DIR}/installed/ DESTINATION ${src})
  set(configure_args -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
elseif(MODE STREQUAL "vendored")
  file(COPY ${CONSUMER_DIR}/vendored/ DESTINATION ${src})
  set(configure_args -DINSTADUMP_SOURCE_DIR=${SOURCE_DIR})
else()
  message(FATAL_ERROR "consumer test: MODE must be installed or vendored, not '${MODE}'")
endif()
if(CONFIG AND CONFIG_FLAGS)
  string(TOUPPER "${CONFIG}" config_upper)
  list(APPEND configure_args "-DCMAKE_CXX_FLAGS_${config_upper}=${CONFIG_FLAGS}")
endif()
file(COPY ${CONSUMER_DIR}/shop/ DESTINATION ${src}/shop)
file(COPY ${CONSUMER_DIR}/plugins/ DESTINATION ${src}/plugins)
run("configure" ${CMAKE_EXE} -S ${src} -B ${build} -G Ninja -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=${CONFIG}
    ${configure_args})
run("build" ${CMAKE_EXE} --build ${build} -j ${JOBS})
run_twice(${build}/shop/shop "visits=150 apples=-1 mode=idle\n" "visits=151 apples=10 mode=busy\n")
run_twice(${build}/plugins/host "runs=0 late=100 apples=0 factor=1.00 audit=0:\n"
          "runs=1 late=101 apples=5 factor=1.50 audit=1:run 1\n")
if(MODE STREQUAL "vendored")
  message(STATUS "consumer test (vendored) passed")
  file(REMOVE_RECURSE ${WORK_DIR})
  return()
endif()

# --- installed: the shop project, changed step by step ------------------------
set(db ${WORK_DIR}/shop-db)

function(build_expect what)
  cmake_parse_arguments(ARG "" "" "HAS;HAS_NOT" ${ARGN})
  run("${what}" ${CMAKE_EXE} --build ${build} -j 1)
  foreach(text IN LISTS ARG_HAS)
    string(FIND "${last_output}${last_errors}" "${text}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "consumer test: ${what}: expected '${text}' in the build output:\n${last_output}")
    endif()
  endforeach()
  foreach(text IN LISTS ARG_HAS_NOT)
    string(FIND "${last_output}${last_errors}" "${text}" at)
    if(NOT at EQUAL -1)
      message(FATAL_ERROR "consumer test: ${what}: did not expect '${text}' in the build output:\n${last_output}")
    endif()
  endforeach()
endfunction()

# Replaces `from` by `to` in a file of the copied shop project.
function(edit file from to)
  file(READ ${src}/shop/${file} text)
  string(FIND "${text}" "${from}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "consumer test: '${from}' is not in shop/${file}")
  endif()
  string(REPLACE "${from}" "${to}" text "${text}")
  file(WRITE ${src}/shop/${file} "${text}")
endfunction()

# A build that must fail and print every HAS text; ENV: variables for the build.
function(build_fails what)
  cmake_parse_arguments(ARG "" "" "HAS;ENV" ${ARGN})
  execute_process(COMMAND ${CMAKE_COMMAND} -E env ${ARG_ENV} ${CMAKE_EXE} --build ${build} -j 1
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
file(TOUCH ${src}/shop/state.h)
build_expect("build after touching state.h" HAS "instadump-codegen: scanning shop" HAS_NOT "capnp compile")
# main.cpp defines no state: it is preprocessed, found without states, and
# the tool does not run.
file(TOUCH ${src}/shop/main.cpp)
build_expect("build after touching main.cpp, which has no state"
             HAS "finding the sources of shop with states" HAS_NOT "instadump-codegen: scanning shop")

# A misspelled attribute in a scanned source is reported (the compile of a
# scanned source does not warn about unknown attributes).
edit(state.cpp "namespace shop {" "namespace shop {\n[[instadump::stat]] int misspelled = 0;")
build_expect("build with a misspelled attribute" HAS "unknown attribute 'instadump::stat' ignored")
edit(state.cpp "namespace shop {\n[[instadump::stat]] int misspelled = 0;" "namespace shop {")

# A state in a source that SOURCES leaves out would never be saved: the build fails.
edit(CMakeLists.txt "instadump_add_state(shop)" "instadump_add_state(shop SOURCES state.cpp)")
edit(main.cpp "int main(" "namespace shop {\n[[instadump::state]] instadump::ref<int> forgotten{0};\n}\n\nint main(")
build_fails("a state in a source left out of SOURCES"
            HAS "that instadump_add_state does not scan defines a state" "main.cpp:8:")
edit(main.cpp "namespace shop {\n[[instadump::state]] instadump::ref<int> forgotten{0};\n}\n\nint main(" "int main(")
edit(CMakeLists.txt "instadump_add_state(shop SOURCES state.cpp)" "instadump_add_state(shop)")
build_expect("build with the sources restored" HAS "Linking CXX executable")

edit(state.h "std::vector<std::string> tags;" "std::vector<std::string> tags;\n  std::string note;")
build_expect("build after adding a member" HAS "instadump-codegen: scanning shop;capnp compile shop.capnp")
if(NOT EXISTS ${src}/shop/shop.schema-history.json)
  message(FATAL_ERROR "consumer test: the schema history was not written next to CMakeLists.txt")
endif()
run("run after adding a member" ${build}/shop/shop ${db})
if(NOT last_output STREQUAL "visits=152 apples=20 mode=busy\n")
  message(FATAL_ERROR "consumer test: the snapshot of the older type should load, got:\n${last_output}")
endif()

# An incompatible change: the build stops and names the migration to write.
edit(state.h "int64_t qty = 0;" "std::string qty;")
edit(main.cpp "apple->second.qty" "std::stoll(apple->second.qty)")
edit(main.cpp "s[\"apple\"].qty += 10;" "s[\"apple\"].qty = \"30 pcs\";")
build_fails("changing a member's type"
            HAS "instadump::schema::v2::Item instadump::schema::migrate(const instadump::schema::v1::Item& old)")
file(APPEND ${src}/shop/state.cpp "
#include \"shop_schema_history.h\"
instadump::schema::v2::Item instadump::schema::migrate(const instadump::schema::v1::Item& old) {
  return Item{old.name, std::to_string(old.qty) + \" pcs\", old.price, old.tags, old.note};
}
")
build_expect("build with the migration" HAS "instadump-codegen: scanning shop")
run("run with the migration" ${build}/shop/shop ${db})
if(NOT last_output STREQUAL "visits=153 apples=30 mode=busy\n")
  message(FATAL_ERROR "consumer test: the migration should convert the stored quantity, got:\n${last_output}")
endif()

# Locked mode: a change to the history fails the build instead.
edit(state.h "std::string note;" "std::string note;\n  int rating = 0;")
build_fails("in locked mode, a new member" ENV INSTADUMP_LOCKED=1
            HAS "locked mode (INSTADUMP_LOCKED): the schema history" "new member Item::rating")
message(STATUS "consumer test (installed) passed")
file(REMOVE_RECURSE ${WORK_DIR})

# instadump_add_state(<target> [SOURCES <file>...] [SCHEMA_DIR <dir>])
#
# Makes the [[instadump::state]] variables defined in <target>'s sources
# durable: runs instadump-codegen over the sources, compiles the Cap'n Proto
# schema it writes, adds the generated codecs and registrations to <target>,
# links Instadump::instadump and silences exactly the unknown-attribute
# warning (clang: -Wunknown-attributes, GCC: -Wattributes) for <target>.
#
#   add_executable(shop main.cpp state.cpp)
#   instadump_add_state(shop)
#
# SOURCES     the sources to scan (default: every C++ source of <target>
#             added before this call). Listing only the files that define
#             states saves compile time.
# SCHEMA_DIR  where the schema history <target>.schema-history.json and the
#             generated <target>.capnp live (default: the directory of the
#             calling CMakeLists.txt). Commit both: the history fixes the
#             Cap'n Proto ordinals of your types and records the layouts that
#             older snapshots have, so that they keep loading (README,
#             "Changing your types").
#
# Locked mode: with -DINSTADUMP_LOCKED=ON (default: the environment variable
# INSTADUMP_LOCKED at configure time) or INSTADUMP_LOCKED=1 in the build's
# environment, the build fails instead of changing a history -- for CI.
#
# Migrations: when a member's type changes in a way Cap'n Proto cannot read
# across, the build fails with the signature of the function to write, in a
# scanned source, after #include "<target>_schema_history.h" (generated from
# the history, with the value types of the older layouts).
#
# How it works. Each scanned source S is replaced in <target> by a generated
# wrapper that #includes S and then S's generated codec, so the codec sees
# every type S sees -- types declared in S itself, in headers, or in named
# modules S imports -- with no extra line in S (Qt's AUTOMOC does the same for
# classes declared in a .cpp). The scan needs S's compile flags and, when S
# imports modules, their BMIs: S is also compiled in a hidden OBJECT library
# <target>_instadump_scan (same flags and link libraries), and the tool runs
# after it, with that library's entry of compile_commands.json. Touching S or
# a header it includes re-runs the tool (depfile and object dependencies); an
# unchanged schema is not rewritten, so nothing downstream rebuilds.
# REQUIRES: the Ninja generator and clang 19 (as for the instadump module).
include_guard(GLOBAL)
if(NOT DEFINED INSTADUMP_LOCKED AND DEFINED ENV{INSTADUMP_LOCKED} AND NOT "$ENV{INSTADUMP_LOCKED}" STREQUAL "0")
  set(INSTADUMP_LOCKED ON)
endif()
# CapnProto's config cannot be loaded twice in one directory scope (it
# re-creates its imported targets): InstadumpConfig.cmake has loaded it already.
if(NOT TARGET CapnProto::capnp)
  find_package(CapnProto CONFIG REQUIRED)
endif()
# The tools, by path: Debian's CapnProto package exports them with wrong
# locations (/usr/lib/bin/capnp).
find_program(INSTADUMP_CAPNP_EXECUTABLE capnp REQUIRED)
find_program(INSTADUMP_CAPNPC_CXX_EXECUTABLE capnpc-c++ REQUIRED)

function(instadump_add_state target)
  cmake_parse_arguments(ARG "" "SCHEMA_DIR" "SOURCES" ${ARGN})
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "instadump_add_state(${target}): unexpected arguments '${ARG_UNPARSED_ARGUMENTS}'; "
                        "expected instadump_add_state(<target> [SOURCES <file>...] [SCHEMA_DIR <dir>])")
  endif()
  if(NOT TARGET ${target})
    message(FATAL_ERROR "instadump_add_state(${target}): no target named '${target}'; call it after "
                        "add_executable/add_library")
  endif()
  if(NOT TARGET Instadump::codegen)
    message(FATAL_ERROR "instadump_add_state(${target}): instadump-codegen is not available; build Instadump with "
                        "-DINSTADUMP_BUILD_CODEGEN=ON")
  endif()
  get_target_property(src_dir ${target} SOURCE_DIR)
  get_target_property(all_sources ${target} SOURCES)

  # The sources to scan, as absolute paths.
  set(scan_list ${ARG_SOURCES})
  if(NOT ARG_SOURCES)
    foreach(s IN LISTS all_sources)
      if(s MATCHES "\\.(cpp|cc|cxx|c\\+\\+|C)$" AND NOT s MATCHES "^\\$<")
        list(APPEND scan_list ${s})
      endif()
    endforeach()
  endif()
  if(NOT scan_list)
    message(FATAL_ERROR "instadump_add_state(${target}): no C++ sources to scan; add the sources defining the "
                        "states before calling it, or pass SOURCES")
  endif()

  set(out ${CMAKE_CURRENT_BINARY_DIR}/${target}_instadump)
  if(ARG_SCHEMA_DIR)
    get_filename_component(schema_dir ${ARG_SCHEMA_DIR} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
  else()
    set(schema_dir ${CMAKE_CURRENT_SOURCE_DIR})
  endif()
  set(schema ${schema_dir}/${target}.capnp)
  set(history ${schema_dir}/${target}.schema-history.json)
  set(history_header ${out}/${target}_schema_history.h)
  # The build reads the history before it first writes it: start an empty one.
  if(NOT EXISTS ${history})
    file(WRITE ${history} "{\"instadump_schema_history\": 1, \"versions\": []}\n")
  endif()
  set(locked_arg)
  if(INSTADUMP_LOCKED)
    set(locked_arg --locked)
  endif()
  set(scan_target ${target}_instadump_scan)

  set(abs_sources)
  set(codecs)
  set(wrappers)
  set(index 0)
  foreach(s IN LISTS scan_list)
    get_filename_component(abs ${s} ABSOLUTE BASE_DIR ${src_dir})
    get_filename_component(name ${abs} NAME_WE)
    set(codec ${out}/codec/${index}_${name}.h)
    set(wrapper ${out}/wrap/${index}_${name}.cpp)
    file(CONFIGURE OUTPUT ${wrapper} CONTENT
"// Generated by instadump_add_state(${target}): compiled instead of
// ${abs}
// so the generated codec sees every type that file sees.
#include \"instadump/capnp_compat.h\"
#include \"${abs}\"
#include \"${codec}\"
" @ONLY)
    list(APPEND abs_sources ${abs})
    list(APPEND codecs ${codec})
    list(APPEND wrappers ${wrapper})
    math(EXPR index "${index} + 1")
  endforeach()

  # The hidden OBJECT library that gives the scan its compile command, modmap and BMIs.
  # The older value types migrations read, generated from the history alone
  # (so that scanned sources may include it).
  add_custom_command(
    OUTPUT ${history_header}
    COMMAND Instadump::codegen --target=${target} --history=${history} --history-header-only=${history_header}
    DEPENDS Instadump::codegen ${history}
    COMMENT "instadump-codegen: ${target}_schema_history.h"
    VERBATIM)

  add_library(${scan_target} OBJECT EXCLUDE_FROM_ALL ${abs_sources} ${history_header})
  target_include_directories(${scan_target} PRIVATE ${out})
  target_include_directories(${scan_target} PRIVATE $<TARGET_PROPERTY:${target},INCLUDE_DIRECTORIES>)
  target_compile_definitions(${scan_target} PRIVATE $<TARGET_PROPERTY:${target},COMPILE_DEFINITIONS>)
  # -w: the scan compile only feeds the tool; the real compile of <target> warns.
  target_compile_options(${scan_target} PRIVATE $<TARGET_PROPERTY:${target},COMPILE_OPTIONS> -w)
  target_link_libraries(${scan_target} PRIVATE $<TARGET_PROPERTY:${target},LINK_LIBRARIES> Instadump::instadump)
  set_target_properties(${scan_target} PROPERTIES EXPORT_COMPILE_COMMANDS ON)
  get_target_property(std ${target} CXX_STANDARD)
  if(std)
    set_target_properties(${scan_target} PROPERTIES CXX_STANDARD ${std})
  endif()
  # The instadump module's BMI is built with -std=c++20, not gnu++20, and
  # clang refuses to import a BMI built with other language flags.
  set_target_properties(${target} ${scan_target} PROPERTIES CXX_EXTENSIONS OFF)

  set(codec_args)
  foreach(c IN LISTS codecs)
    list(APPEND codec_args --codec-out=${c})
  endforeach()
  add_custom_command(
    OUTPUT ${schema} ${codecs}
    COMMAND Instadump::codegen -p ${CMAKE_BINARY_DIR} --target=${target} --schema-out=${schema}
            --capnp-header=${target}.capnp.h --entry-filter=/${scan_target}.dir/ --depfile=${out}/${target}.d
            --history=${history} --history-header-name=${target}_schema_history.h ${locked_arg}
            ${codec_args} ${abs_sources}
    DEPENDS Instadump::codegen ${abs_sources} ${history} $<TARGET_OBJECTS:${scan_target}>
    DEPFILE ${out}/${target}.d
    COMMENT "instadump-codegen: scanning ${target} for [[instadump::state]]"
    VERBATIM)

  # /capnp/c++.capnp is found in capnp's standard import path or next to its headers.
  get_target_property(capnp_include_dirs CapnProto::capnp INTERFACE_INCLUDE_DIRECTORIES)
  set(capnp_imports)
  foreach(dir IN LISTS capnp_include_dirs)
    list(APPEND capnp_imports -I${dir})
  endforeach()
  add_custom_command(
    OUTPUT ${out}/${target}.capnp.c++ ${out}/${target}.capnp.h
    COMMAND ${INSTADUMP_CAPNP_EXECUTABLE} compile -o${INSTADUMP_CAPNPC_CXX_EXECUTABLE}:${out} --src-prefix=${schema_dir} ${capnp_imports}
            ${schema}
    DEPENDS ${schema}
    COMMENT "capnp compile ${target}.capnp"
    VERBATIM)

  # Swap the scanned sources for their wrappers.
  set(kept)
  foreach(s IN LISTS all_sources)
    get_filename_component(abs ${s} ABSOLUTE BASE_DIR ${src_dir})
    if(NOT abs IN_LIST abs_sources)
      list(APPEND kept ${s})
    endif()
  endforeach()
  set_property(TARGET ${target} PROPERTY SOURCES ${kept})
  target_sources(${target} PRIVATE ${wrappers} ${codecs} ${history_header} ${out}/${target}.capnp.c++
                                   ${out}/${target}.capnp.h)
  set_source_files_properties(${out}/${target}.capnp.c++ PROPERTIES
    CXX_SCAN_FOR_MODULES OFF
    COMPILE_OPTIONS "-include;instadump/capnp_compat.h")
  target_include_directories(${target} PRIVATE ${out})
  target_link_libraries(${target} PRIVATE Instadump::instadump CapnProto::capnp)
  target_compile_options(${target} PRIVATE
    $<$<CXX_COMPILER_ID:Clang>:-Wno-unknown-attributes> $<$<CXX_COMPILER_ID:GNU>:-Wno-attributes>)
endfunction()

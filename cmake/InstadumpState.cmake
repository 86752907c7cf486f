# instadump_add_state(<target> [SOURCES <file>...] [SCHEMA_DIR <dir>])
#
# Makes the [[instadump::state]] variables defined in <target>'s sources
# durable: finds them, writes a Cap'n Proto schema and C++ codecs and
# registrations for them with instadump-codegen, compiles those into
# <target> and links Instadump::instadump.
#
#   add_executable(shop main.cpp state.cpp)
#   instadump_add_state(shop)
#
# SOURCES     the sources to scan (default: every C++ source <target> has at
#             the end of the calling directory, also those added after this
#             call). A source left out must not define a state: the build
#             fails if it does. Leave out a source that includes a header
#             generated from the scan (<target>.capnp.h).
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
# How it works (docs/CODEGEN.md has the picture). Each scanned source S is
# replaced in <target> by a generated wrapper that #includes S and then S's
# generated codec, so the codec sees every type S sees -- types declared in
# S itself, in headers, or in named modules S imports -- with no extra line
# in S (Qt's AUTOMOC does the same for classes declared in a .cpp). What the
# build adds, per step (InstadumpScanSteps.cmake):
#   detect    S is preprocessed (not compiled) in a hidden OBJECT library
#             <target>_instadump_scan with S's flags, and the text searched
#             for [[instadump::state]] and for migrations: milliseconds.
#   plan      lists the sources that hold states; rewritten only when that
#             list changes.
#   generate  instadump-codegen parses the sources that hold states (their
#             compile commands, module maps and BMIs come from the hidden
#             library), reconciles the schema history and writes the schema
#             and the codecs; runs when the plan, a source with states or a
#             header it includes changes. Unchanged outputs are not
#             rewritten, so nothing downstream rebuilds.
# So an edit of a file without states costs its preprocessing on top of its
# compile; an edit of a file with states adds one parse per file with states.
#
# The unknown-attribute warning (clang: -Wunknown-attributes, GCC:
# -Wattributes) is silenced in the scanned sources only; a source the scan
# does not cover keeps it.
#
# REQUIRES: the Ninja generator and clang 19 (as for the instadump module).
include_guard(GLOBAL)
if(NOT DEFINED INSTADUMP_LOCKED AND DEFINED ENV{INSTADUMP_LOCKED} AND NOT "$ENV{INSTADUMP_LOCKED}" STREQUAL "0")
  set(INSTADUMP_LOCKED ON)
endif()
include(${CMAKE_CURRENT_LIST_DIR}/InstadumpCapnp.cmake)  # instadump_capnp_generate
set_property(GLOBAL PROPERTY INSTADUMP_SCAN_STEPS ${CMAKE_CURRENT_LIST_DIR}/InstadumpScanSteps.cmake)

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
  get_target_property(done ${target} INSTADUMP_STATE)
  if(done)
    message(FATAL_ERROR "instadump_add_state(${target}): called twice for '${target}'; call it once per target")
  endif()
  get_target_property(src_dir ${target} SOURCE_DIR)
  set(explicit)
  foreach(s IN LISTS ARG_SOURCES)
    get_filename_component(abs ${s} ABSOLUTE BASE_DIR ${src_dir})
    list(APPEND explicit ${abs})
  endforeach()
  if(ARG_SCHEMA_DIR)
    get_filename_component(schema_dir ${ARG_SCHEMA_DIR} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
  else()
    set(schema_dir ${CMAKE_CURRENT_SOURCE_DIR})
  endif()
  set_target_properties(${target} PROPERTIES
    INSTADUMP_STATE ON
    INSTADUMP_SCAN_SOURCES "${explicit}"
    INSTADUMP_EXPLICIT_SOURCES "${ARG_SOURCES}"
    INSTADUMP_SCHEMA_DIR ${schema_dir}
    # The instadump module's BMI is built with -std=c++20, not gnu++20, and
    # clang refuses to import a BMI built with other language flags.
    CXX_EXTENSIONS OFF)
  target_link_libraries(${target} PRIVATE Instadump::instadump)
  # The rest waits for the end of this directory, so that sources added to
  # the target after this call are scanned too.
  cmake_language(EVAL CODE "cmake_language(DEFER CALL _instadump_add_state_now [[${target}]])")
endfunction()

# The C++ sources of <target> as absolute paths: all, or those of the
# INSTADUMP_SCAN_SOURCES property. Generator expressions and generated files
# are not scanned (a generated file would have to exist before the scan).
function(_instadump_scan_candidates target out_scanned out_unscanned)
  get_target_property(src_dir ${target} SOURCE_DIR)
  get_target_property(all_sources ${target} SOURCES)
  get_target_property(explicit ${target} INSTADUMP_SCAN_SOURCES)
  set(scanned)
  set(unscanned)
  foreach(s IN LISTS all_sources)
    if(s MATCHES "^\\$<" OR NOT s MATCHES "\\.(cpp|cc|cxx|c\\+\\+|C)$")
      continue()
    endif()
    get_filename_component(abs ${s} ABSOLUTE BASE_DIR ${src_dir})
    get_source_file_property(generated ${abs} TARGET_DIRECTORY ${target} GENERATED)
    if(generated)
      continue()
    endif()
    if(NOT explicit OR abs IN_LIST explicit)
      list(APPEND scanned ${abs})
    else()
      list(APPEND unscanned ${abs})
    endif()
  endforeach()
  foreach(abs IN LISTS explicit)
    if(NOT abs IN_LIST scanned)
      message(FATAL_ERROR "instadump_add_state(${target}): SOURCES names ${abs}, which is not a C++ source of "
                          "'${target}' (add it with add_executable/add_library/target_sources)")
    endif()
  endforeach()
  set(${out_scanned} ${scanned} PARENT_SCOPE)
  set(${out_unscanned} ${unscanned} PARENT_SCOPE)
endfunction()

function(_instadump_add_state_now target)
  get_target_property(schema_dir ${target} INSTADUMP_SCHEMA_DIR)
  get_property(steps GLOBAL PROPERTY INSTADUMP_SCAN_STEPS)
  _instadump_scan_candidates(${target} candidates unscanned)
  if(NOT candidates)
    message(FATAL_ERROR "instadump_add_state(${target}): '${target}' has no C++ sources to scan; add the sources "
                        "that define its states")
  endif()

  set(out ${CMAKE_CURRENT_BINARY_DIR}/${target}_instadump)
  set(schema ${schema_dir}/${target}.capnp)
  set(history ${schema_dir}/${target}.schema-history.json)
  set(history_header_name ${target}_schema_history.h)
  set(history_header ${out}/${history_header_name})
  # The build reads the history before it first writes it: start an empty one.
  if(NOT EXISTS ${history})
    file(WRITE ${history} "{\"instadump_schema_history\": 1, \"versions\": []}\n")
  endif()
  set(locked_arg)
  if(INSTADUMP_LOCKED)
    set(locked_arg --locked)
  endif()
  set(scan_target ${target}_instadump_scan)

  # One wrapper and one codec per scanned source.
  set(codecs)
  set(wrappers)
  set(index 0)
  foreach(abs IN LISTS candidates)
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
    list(APPEND codecs ${codec})
    list(APPEND wrappers ${wrapper})
    math(EXPR index "${index} + 1")
  endforeach()

  # The older value types migrations read, generated from the history alone
  # (so that scanned sources may include it).
  add_custom_command(
    OUTPUT ${history_header}
    COMMAND Instadump::codegen --target=${target} --history=${history} --history-header-only=${history_header}
    DEPENDS Instadump::codegen ${history}
    COMMENT "instadump-codegen: ${history_header_name}"
    VERBATIM)

  # detect: the hidden OBJECT library preprocesses each source (a compiler
  # launcher turns the compile into `-E` and leaves in the object only
  # whether the source holds states). Its entries in compile_commands.json
  # are ordinary compiles, which the tool and clangd read; its module maps
  # and BMIs are those the tool needs.
  add_library(${scan_target} OBJECT EXCLUDE_FROM_ALL ${candidates} ${history_header})
  target_include_directories(${scan_target} PRIVATE ${out})
  target_include_directories(${scan_target} PRIVATE $<TARGET_PROPERTY:${target},INCLUDE_DIRECTORIES>)
  target_compile_definitions(${scan_target} PRIVATE $<TARGET_PROPERTY:${target},COMPILE_DEFINITIONS>)
  target_compile_options(${scan_target} PRIVATE $<TARGET_PROPERTY:${target},COMPILE_OPTIONS>
    $<$<CXX_COMPILER_ID:Clang>:-Wno-unknown-attributes> $<$<CXX_COMPILER_ID:GNU>:-Wno-attributes>)
  target_link_libraries(${scan_target} PRIVATE $<TARGET_PROPERTY:${target},LINK_LIBRARIES> Instadump::instadump)
  get_target_property(type ${target} TYPE)
  get_target_property(pic ${target} POSITION_INDEPENDENT_CODE)
  if(type MATCHES "^(SHARED|MODULE)_LIBRARY$")
    set(pic ON)
  endif()
  set_target_properties(${scan_target} PROPERTIES
    EXPORT_COMPILE_COMMANDS ON
    UNITY_BUILD OFF  # one object, one answer, per source
    CXX_EXTENSIONS OFF
    POSITION_INDEPENDENT_CODE "${pic}"  # the same flags as <target>: the same BMIs
    CXX_COMPILER_LAUNCHER "${CMAKE_COMMAND};-DSTEP=detect;-DTARGET=${target};-P;${steps};--")
  get_target_property(std ${target} CXX_STANDARD)
  if(std)
    set_target_properties(${scan_target} PROPERTIES CXX_STANDARD ${std})
  endif()

  # plan: which sources hold states. Also fails the build for a state in a
  # C++ source of the target that is not scanned (left out of SOURCES, or
  # added from another directory after this one ended): the final source
  # list is written when the build is generated.
  set(plan ${out}/sources_with_states.txt)
  set(target_sources_list ${out}/target_sources.txt)
  file(GENERATE OUTPUT ${target_sources_list}
       CONTENT "$<JOIN:$<TARGET_PROPERTY:${target},SOURCES>,\n>\n")
  get_target_property(src_dir ${target} SOURCE_DIR)
  file(CONFIGURE OUTPUT ${out}/scan_arguments.cmake CONTENT
"# Written by instadump_add_state(${target}) when the build is configured.
set(TARGET [[${target}]])
set(TARGET_SOURCE_DIR [[${src_dir}]])
set(GENERATED_DIR [[${out}]])
set(SCANNED_SOURCES [[${candidates}]])
set(CODECS [[${codecs}]])
set(PLAN [[${plan}]])
set(TARGET_SOURCES_LIST [[${target_sources_list}]])
set(TOOL_ARGUMENTS [[-p;${CMAKE_BINARY_DIR};--target=${target};--schema-out=${schema};--capnp-header=${target}.capnp.h;\
--entry-filter=/${scan_target}.dir/;--depfile=${out}/${target}.d;--history=${history};\
--history-header-name=${history_header_name};${locked_arg}]])
" @ONLY)
  add_custom_command(
    OUTPUT ${plan}
    COMMAND ${CMAKE_COMMAND} -DSTEP=plan -DARGUMENTS=${out}/scan_arguments.cmake
            "-DOBJECTS=$<TARGET_OBJECTS:${scan_target}>" -P ${steps}
    DEPENDS $<TARGET_OBJECTS:${scan_target}> ${unscanned} ${target_sources_list} ${out}/scan_arguments.cmake ${steps}
    COMMENT "instadump: finding the sources of ${target} with states"
    VERBATIM)

  # generate: instadump-codegen over the sources with states.
  add_custom_command(
    OUTPUT ${schema} ${codecs}
    COMMAND ${CMAKE_COMMAND} -DSTEP=generate -DARGUMENTS=${out}/scan_arguments.cmake
            -DTOOL=$<TARGET_FILE:Instadump::codegen> -P ${steps}
    DEPENDS Instadump::codegen ${plan} ${history} ${out}/scan_arguments.cmake ${steps}
    DEPFILE ${out}/${target}.d
    COMMENT "instadump-codegen: scanning ${target} for [[instadump::state]]"
    VERBATIM)
  instadump_capnp_generate(${target} ${schema} SRC_PREFIX ${schema_dir} OUTPUT_DIR ${out})

  # Swap the scanned sources for their wrappers.
  get_target_property(all_sources ${target} SOURCES)
  set(kept)
  foreach(s IN LISTS all_sources)
    get_filename_component(abs ${s} ABSOLUTE BASE_DIR ${src_dir})
    if(s MATCHES "^\\$<" OR NOT abs IN_LIST candidates)
      list(APPEND kept ${s})
    endif()
  endforeach()
  set_property(TARGET ${target} PROPERTY SOURCES ${kept})
  target_sources(${target} PRIVATE ${wrappers} ${codecs} ${history_header})
  set_source_files_properties(${wrappers} PROPERTIES
    COMPILE_OPTIONS "$<$<CXX_COMPILER_ID:Clang>:-Wno-unknown-attributes>;$<$<CXX_COMPILER_ID:GNU>:-Wno-attributes>"
    SKIP_UNITY_BUILD_INCLUSION ON)  # two codecs in one translation unit would collide
  target_include_directories(${target} PRIVATE ${out})
endfunction()

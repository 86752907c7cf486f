# instadump_capnp_generate(<target> <schema.capnp>... [IMPORT_DIRS dir...])
#
# Compiles Cap'n Proto schemas to C++ at build time and adds the generated
# sources to <target>, with the include directory to reach "<name>.capnp.h".
# Generated sources get the C++20 compatibility header (capnp 0.9.2) and are
# not scanned for C++20 modules.
if(NOT TARGET CapnProto::capnp)  # (its config cannot be loaded twice into one scope)
  find_package(CapnProto CONFIG REQUIRED)
endif()

function(instadump_capnp_generate target)
  cmake_parse_arguments(ARG "" "" "IMPORT_DIRS" ${ARGN})
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/${target}_capnp)
  set(import_flags)
  foreach(dir IN LISTS ARG_IMPORT_DIRS)
    list(APPEND import_flags -I${dir})
  endforeach()
  foreach(schema IN LISTS ARG_UNPARSED_ARGUMENTS)
    get_filename_component(abs ${schema} ABSOLUTE)
    get_filename_component(dir ${abs} DIRECTORY)
    get_filename_component(name ${abs} NAME)
    set(src ${out_dir}/${name}.c++)
    add_custom_command(
      OUTPUT ${src} ${out_dir}/${name}.h
      COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
      COMMAND ${CAPNP_EXECUTABLE} compile -oc++:${out_dir} --src-prefix=${dir} ${import_flags} ${abs}
      DEPENDS ${abs}
      COMMENT "capnp compile ${name}"
      VERBATIM)
    target_sources(${target} PRIVATE ${src})
    set_source_files_properties(${src} PROPERTIES
      CXX_SCAN_FOR_MODULES OFF
      COMPILE_OPTIONS "-include;${PROJECT_SOURCE_DIR}/include/instadump/capnp_compat.h")
  endforeach()
  target_include_directories(${target} PRIVATE ${out_dir})
  target_link_libraries(${target} PRIVATE CapnProto::capnp)
endfunction()

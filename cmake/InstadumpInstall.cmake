# Install rules and the CMake package (INSTADUMP_INSTALL). After
# `cmake --install <build> --prefix <dir>`, a project uses
#
#   find_package(Instadump CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE Instadump::instadump)   # import instadump;
#   instadump_add_state(app)                                   # [[instadump::state]]
#
# The installed tree holds what users include or link, and nothing else:
#   lib/                    libinstadump, libinstadump_storage (shared unless
#                           INSTADUMP_SHARED=OFF)
#   lib/instadump/modules/  the `instadump` module's sources (consumers build
#                           their own BMI, as C++20 modules require)
#   include/instadump/      capnp_compat.h (Cap'n Proto under C++20),
#                           support/ (headers of the generated codecs),
#                           runtime/ (the headers the module's sources include,
#                           found from their #includes when installing)
#   bin/                    instadump-codegen (with INSTADUMP_BUILD_CODEGEN), instadump
#                           (the operators' tool, docs/CLI.md)
#   lib/cmake/Instadump/    the package: targets Instadump::instadump,
#                           Instadump::storage, Instadump::codegen, Instadump::cli;
#                           instadump_add_state, instadump_capnp_generate;
#                           FindLMDB, FindxxHash (found again by the package)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(INSTADUMP_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/Instadump)
set(_runtime_includes ${CMAKE_INSTALL_INCLUDEDIR}/instadump/runtime)

set(_targets instadump instadump_storage)
if(TARGET instadump-codegen)
  list(APPEND _targets instadump-codegen)
  set_target_properties(instadump-codegen PROPERTIES EXPORT_NAME codegen)
endif()
# The operators' tool `instadump` (tools/cli): Instadump::cli, since
# Instadump::instadump names the library.
if(TARGET instadump_cli)
  list(APPEND _targets instadump_cli)
endif()
set_target_properties(instadump_storage PROPERTIES EXPORT_NAME storage)
foreach(_target instadump instadump_storage)
  target_include_directories(${_target} PUBLIC
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}> $<INSTALL_INTERFACE:${_runtime_includes}>)
endforeach()

install(TARGETS ${_targets}
  EXPORT InstadumpTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  FILE_SET CXX_MODULES DESTINATION ${CMAKE_INSTALL_LIBDIR}/instadump/modules)
install(FILES ${PROJECT_SOURCE_DIR}/include/instadump/capnp_compat.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/instadump)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/instadump/support
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/instadump
  FILES_MATCHING PATTERN "*.h")
# The headers of modules/ that the module's interface units include, directly
# or not: computed when installing, so the list cannot go stale.
get_target_property(_module_sets instadump CXX_MODULE_SETS)
set(_module_sources)
foreach(_set IN LISTS _module_sets)
  get_target_property(_files instadump CXX_MODULE_SET_${_set})
  list(APPEND _module_sources ${_files})
endforeach()
list(TRANSFORM _module_sources PREPEND ${PROJECT_SOURCE_DIR}/modules/ REGEX "^[^/]")
# Generated codecs include the support headers, and through them the
# format's ceilings (common/limits.h): the headers those include go along.
file(GLOB _support_headers ${PROJECT_SOURCE_DIR}/include/instadump/support/*.h)
list(APPEND _module_sources ${_support_headers})
install(CODE "
set(INSTADUMP_MODULE_SOURCES [[${_module_sources}]])
set(INSTADUMP_HEADER_ROOT [[${PROJECT_SOURCE_DIR}/modules]])
set(INSTADUMP_OTHER_ROOTS [[${PROJECT_SOURCE_DIR}/include]])
set(INSTADUMP_HEADER_DESTINATION [[${_runtime_includes}]])
include([[${PROJECT_SOURCE_DIR}/cmake/InstadumpInstallModuleHeaders.cmake]])
")

install(EXPORT InstadumpTargets
  NAMESPACE Instadump::
  DESTINATION ${INSTADUMP_INSTALL_CMAKEDIR}
  CXX_MODULES_DIRECTORY cxx-modules)
set(INSTADUMP_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/InstadumpConfig.cmake.in
  ${PROJECT_BINARY_DIR}/InstadumpConfig.cmake
  INSTALL_DESTINATION ${INSTADUMP_INSTALL_CMAKEDIR}
  PATH_VARS INSTADUMP_INSTALL_INCLUDEDIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/InstadumpConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)  # 0.x: minor versions may break the API
install(FILES
  ${PROJECT_BINARY_DIR}/InstadumpConfig.cmake
  ${PROJECT_BINARY_DIR}/InstadumpConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/InstadumpState.cmake
  ${PROJECT_SOURCE_DIR}/cmake/InstadumpScanSteps.cmake
  ${PROJECT_SOURCE_DIR}/cmake/InstadumpCapnp.cmake
  ${PROJECT_SOURCE_DIR}/cmake/FindLMDB.cmake
  ${PROJECT_SOURCE_DIR}/cmake/FindxxHash.cmake
  DESTINATION ${INSTADUMP_INSTALL_CMAKEDIR})

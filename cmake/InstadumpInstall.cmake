# Install rules and the CMake package: after `cmake --install`, a project uses
#
#   find_package(Instadump CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE Instadump::instadump)   # import instadump;
#   instadump_add_state(app)                                   # [[instadump::state]]
#
# Installed: the `instadump` module sources (FILE_SET CXX_MODULES; consumers
# build their own BMI), libinstadump and libinstadump_storage with the
# headers the module includes (under include/instadump/runtime), the Cap'n
# Proto compatibility header, instadump-codegen (Instadump::codegen), and
# InstadumpState.cmake, loaded by the package config.
# Included from the top-level CMakeLists.txt when INSTADUMP_BUILD_CODEGEN is ON.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(INSTADUMP_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/Instadump)
set(_runtime_includes ${CMAKE_INSTALL_INCLUDEDIR}/instadump/runtime)

target_include_directories(instadump PUBLIC
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}> $<INSTALL_INTERFACE:${_runtime_includes}>)
target_include_directories(instadump_storage PUBLIC
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}> $<INSTALL_INTERFACE:${_runtime_includes}>)
set_target_properties(instadump-codegen PROPERTIES EXPORT_NAME codegen)

install(TARGETS instadump instadump_storage instadump-codegen
  EXPORT InstadumpTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  FILE_SET CXX_MODULES DESTINATION ${CMAKE_INSTALL_LIBDIR}/instadump/modules)
install(FILES ${PROJECT_SOURCE_DIR}/include/instadump/capnp_compat.h ${PROJECT_SOURCE_DIR}/include/instadump/support/codec_support.h
              ${PROJECT_SOURCE_DIR}/include/instadump/support/wire_reader.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/instadump)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/modules/storage ${PROJECT_SOURCE_DIR}/modules/common
  DESTINATION ${_runtime_includes}
  FILES_MATCHING PATTERN "*.h")

install(EXPORT InstadumpTargets
  NAMESPACE Instadump::
  DESTINATION ${INSTADUMP_INSTALL_CMAKEDIR}
  CXX_MODULES_DIRECTORY cxx-modules)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/InstadumpConfig.cmake.in
  ${PROJECT_BINARY_DIR}/InstadumpConfig.cmake
  INSTALL_DESTINATION ${INSTADUMP_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/InstadumpConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)  # 0.x: minor versions may break the API
install(FILES
  ${PROJECT_BINARY_DIR}/InstadumpConfig.cmake
  ${PROJECT_BINARY_DIR}/InstadumpConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/InstadumpState.cmake
  DESTINATION ${INSTADUMP_INSTALL_CMAKEDIR})

# FindxxHash: the xxHash library (https://xxhash.com), as the imported target
# xxHash::xxhash (the name xxHash's own CMake package uses). Found by
# Instadump's build and again by its installed package
# (InstadumpConfig.cmake), so the export names the target, not a path.
#
# Sets xxHash_FOUND, xxHash_INCLUDE_DIR, xxHash_LIBRARY, xxHash_VERSION.
# Hints: xxHash_ROOT, CMAKE_PREFIX_PATH.
find_path(xxHash_INCLUDE_DIR xxhash.h)
find_library(xxHash_LIBRARY NAMES xxhash)
if(xxHash_INCLUDE_DIR AND EXISTS ${xxHash_INCLUDE_DIR}/xxhash.h)
  file(STRINGS ${xxHash_INCLUDE_DIR}/xxhash.h _xxhash_version_lines
       REGEX "^#define XXH_VERSION_(MAJOR|MINOR|RELEASE)[ \t]")
  set(_xxhash_version "")
  foreach(part MAJOR MINOR RELEASE)
    string(REGEX REPLACE ".*#define XXH_VERSION_${part}[ \t]+([0-9]+).*" "\\1" _n "${_xxhash_version_lines}")
    list(APPEND _xxhash_version ${_n})
  endforeach()
  list(JOIN _xxhash_version "." xxHash_VERSION)
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(xxHash REQUIRED_VARS xxHash_LIBRARY xxHash_INCLUDE_DIR VERSION_VAR xxHash_VERSION)
mark_as_advanced(xxHash_INCLUDE_DIR xxHash_LIBRARY)

if(xxHash_FOUND AND NOT TARGET xxHash::xxhash)
  add_library(xxHash::xxhash UNKNOWN IMPORTED)
  set_target_properties(xxHash::xxhash PROPERTIES
    IMPORTED_LOCATION ${xxHash_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${xxHash_INCLUDE_DIR})
endif()

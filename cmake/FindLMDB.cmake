# FindLMDB: the LMDB library (http://www.lmdb.tech), as the imported target
# LMDB::lmdb. Found by Instadump's build and again by its installed package
# (InstadumpConfig.cmake), so the export names the target, not a path.
#
# Sets LMDB_FOUND, LMDB_INCLUDE_DIR, LMDB_LIBRARY, LMDB_VERSION (from lmdb.h).
# Hints: LMDB_ROOT, CMAKE_PREFIX_PATH.
find_path(LMDB_INCLUDE_DIR lmdb.h)
find_library(LMDB_LIBRARY NAMES lmdb)
if(LMDB_INCLUDE_DIR AND EXISTS ${LMDB_INCLUDE_DIR}/lmdb.h)
  file(STRINGS ${LMDB_INCLUDE_DIR}/lmdb.h _lmdb_version_lines REGEX "^#define MDB_VERSION_(MAJOR|MINOR|PATCH)[ \t]")
  set(_lmdb_version "")
  foreach(part MAJOR MINOR PATCH)
    string(REGEX REPLACE ".*#define MDB_VERSION_${part}[ \t]+([0-9]+).*" "\\1" _n "${_lmdb_version_lines}")
    list(APPEND _lmdb_version ${_n})
  endforeach()
  list(JOIN _lmdb_version "." LMDB_VERSION)
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(LMDB REQUIRED_VARS LMDB_LIBRARY LMDB_INCLUDE_DIR VERSION_VAR LMDB_VERSION)
mark_as_advanced(LMDB_INCLUDE_DIR LMDB_LIBRARY)

if(LMDB_FOUND AND NOT TARGET LMDB::lmdb)
  add_library(LMDB::lmdb UNKNOWN IMPORTED)
  set_target_properties(LMDB::lmdb PROPERTIES
    IMPORTED_LOCATION ${LMDB_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${LMDB_INCLUDE_DIR})
endif()

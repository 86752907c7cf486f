# Run by `cmake --install` (InstadumpInstall.cmake): installs the headers
# under INSTADUMP_HEADER_ROOT (modules/) that the module's interface units
# INSTADUMP_MODULE_SOURCES include, directly or through other headers, into
# <prefix>/INSTADUMP_HEADER_DESTINATION with their paths relative to the
# root ("storage/snapshot_types.h"). Consumers need exactly these to build the
# module's BMI; the storage internals (lmdb_env.h, test_hooks.h, ...) stay out.
# Quoted includes are looked up next to the including file, then in the root
# and in INSTADUMP_OTHER_ROOTS (include/, installed on its own).
set(_queue ${INSTADUMP_MODULE_SOURCES})
set(_seen)
while(_queue)
  list(POP_FRONT _queue _file)
  get_filename_component(_dir ${_file} DIRECTORY)
  file(STRINGS ${_file} _includes REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
  foreach(_line IN LISTS _includes)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([^\"]+)\".*" "\\1" _name "${_line}")
    foreach(_base IN ITEMS ${_dir} ${INSTADUMP_HEADER_ROOT} ${INSTADUMP_OTHER_ROOTS})
      if(EXISTS ${_base}/${_name})
        get_filename_component(_found ${_base}/${_name} ABSOLUTE)
        if(NOT _found IN_LIST _seen)
          list(APPEND _seen ${_found})
          list(APPEND _queue ${_found})
        endif()
        break()
      endif()
    endforeach()
  endforeach()
endwhile()
foreach(_header IN LISTS _seen)
  file(RELATIVE_PATH _rel ${INSTADUMP_HEADER_ROOT} ${_header})
  if(_rel MATCHES "^\\.\\./")
    continue()  # under include/: installed as it is
  endif()
  get_filename_component(_rel_dir ${_rel} DIRECTORY)
  file(INSTALL ${_header} DESTINATION ${CMAKE_INSTALL_PREFIX}/${INSTADUMP_HEADER_DESTINATION}/${_rel_dir})
endforeach()

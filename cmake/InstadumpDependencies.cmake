# The libraries Instadump's runtime builds on, found once for the whole build.
# Their imported targets are made GLOBAL: a project that vendors Instadump
# (add_subdirectory) calls instadump_add_state from its own directories,
# which would not see imported targets found only in Instadump's.
# The installed package finds the same ones again (InstadumpConfig.cmake).
list(PREPEND CMAKE_MODULE_PATH ${CMAKE_CURRENT_LIST_DIR})  # FindLMDB.cmake, FindxxHash.cmake
if(NOT TARGET CapnProto::capnp)  # (its config cannot be loaded twice into one directory scope)
  find_package(CapnProto CONFIG REQUIRED GLOBAL)
endif()
find_package(LMDB REQUIRED GLOBAL)
find_package(xxHash REQUIRED GLOBAL)
find_package(PostgreSQL REQUIRED GLOBAL)  # libpq, for replication (modules/replication)
if(NOT TARGET Threads::Threads)
  find_package(Threads REQUIRED GLOBAL)
endif()

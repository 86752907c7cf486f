# Finds LLVM and Clang 19 for instadump-codegen through their own CMake
# packages (LLVMConfig.cmake, ClangConfig.cmake), which give the imported
# targets clang-cpp and LLVM, LLVM_INCLUDE_DIRS, CLANG_INCLUDE_DIRS, ...
#
# Where they are looked for: LLVM_DIR / Clang_DIR or CMAKE_PREFIX_PATH when
# given; else the LLVM installation that the C++ compiler belongs to
# (clang++-19 is /usr/lib/llvm-19/bin/clang on Debian and Ubuntu), and that
# of llvm-config-19. The version must be 19.1 exactly as LLVM's version file
# spells it (`find_package(LLVM 19)` is refused as incompatible).
set(_instadump_llvm_hints)
get_filename_component(_instadump_cxx ${CMAKE_CXX_COMPILER} REALPATH)
get_filename_component(_instadump_cxx_prefix ${_instadump_cxx} DIRECTORY)  # .../bin
get_filename_component(_instadump_cxx_prefix ${_instadump_cxx_prefix} DIRECTORY)
list(APPEND _instadump_llvm_hints ${_instadump_cxx_prefix})
find_program(INSTADUMP_LLVM_CONFIG NAMES llvm-config-19 llvm-config
             DOC "llvm-config of LLVM 19, to find its CMake package")
if(INSTADUMP_LLVM_CONFIG)
  execute_process(COMMAND ${INSTADUMP_LLVM_CONFIG} --prefix OUTPUT_VARIABLE _instadump_llvm_prefix
                  OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _instadump_rc)
  if(_instadump_rc EQUAL 0)
    list(APPEND _instadump_llvm_hints ${_instadump_llvm_prefix})
  endif()
endif()
find_package(LLVM 19.1 CONFIG REQUIRED HINTS ${_instadump_llvm_hints})
# Clang's package sits next to LLVM's (lib/cmake/clang beside lib/cmake/llvm).
find_package(Clang 19.1 CONFIG REQUIRED HINTS ${LLVM_DIR}/../clang ${_instadump_llvm_hints})
message(STATUS "Instadump: instadump-codegen uses LLVM ${LLVM_PACKAGE_VERSION} from ${LLVM_DIR}")

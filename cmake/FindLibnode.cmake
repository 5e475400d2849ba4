# Finds V8 as shipped in Debian's libnode (Node 18, V8 10.2): either installed
# system-wide (libnode-dev) or unpacked by scripts/setup into build/deps/libnode.
# Defines the imported target Libnode::Libnode.
set(_libnode_roots "${CMAKE_BINARY_DIR}/deps/libnode/usr" "/usr")
find_path(Libnode_INCLUDE_DIR v8.h
  PATHS ${_libnode_roots} PATH_SUFFIXES include/node NO_DEFAULT_PATH)
find_library(Libnode_LIBRARY NAMES libnode.so.108 node
  PATHS ${_libnode_roots} PATH_SUFFIXES lib/x86_64-linux-gnu lib NO_DEFAULT_PATH)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Libnode REQUIRED_VARS Libnode_LIBRARY Libnode_INCLUDE_DIR)

if(Libnode_FOUND AND NOT TARGET Libnode::Libnode)
  add_library(Libnode::Libnode SHARED IMPORTED)
  set_target_properties(Libnode::Libnode PROPERTIES
    IMPORTED_LOCATION "${Libnode_LIBRARY}"
    IMPORTED_NO_SONAME FALSE
    INTERFACE_INCLUDE_DIRECTORIES "${Libnode_INCLUDE_DIR}")
  # An unpacked libnode is not on the loader's path: remember where it is.
  get_filename_component(_libnode_dir "${Libnode_LIBRARY}" DIRECTORY)
  set(Libnode_RPATH "${_libnode_dir}" CACHE INTERNAL "")
endif()

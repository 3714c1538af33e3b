# Static linking of the two programs against Debian's archives of gRPC,
# protobuf and Abseil (see client/CMakeLists.txt and server/CMakeLists.txt
# for why each is linked so).

# Sets OUT to the static archives of the pkg-config MODULES and their
# dependencies, plus the EXTRA libraries (those a .pc file omits), or to
# nothing if one of them has no archive.
function(durable_find_static_archives OUT)
  cmake_parse_arguments(ARG "" "" "MODULES;EXTRA" ${ARGN})
  set(${OUT} "" PARENT_SCOPE)
  # pkg-config's results are cached under the prefix: one per caller.
  set(pc ${OUT}_pc)
  pkg_check_modules(${pc} QUIET ${ARG_MODULES})
  if(NOT ${pc}_FOUND)
    return()
  endif()
  set(names ${${pc}_STATIC_LIBRARIES} ${ARG_EXTRA})
  list(REMOVE_DUPLICATES names)
  # The C and C++ runtimes' own libraries stay shared, and so does zlib:
  # Debian's policy (lintian's embedded-library) wants it never copied into
  # a binary, so that its security updates reach every program.
  set(shared_names)
  if(z IN_LIST names)
    set(shared_names z)
  endif()
  list(REMOVE_ITEM names atomic rt dl m pthread z)
  set(archives)
  foreach(name IN LISTS names)
    find_library(archive_${name} NAMES lib${name}.a
                 HINTS ${${pc}_STATIC_LIBRARY_DIRS} NO_CACHE)
    if(NOT archive_${name})
      message(STATUS "no lib${name}.a: ${OUT} stays empty")
      return()
    endif()
    list(APPEND archives ${archive_${name}})
  endforeach()
  set(${OUT} ${archives} ${shared_names} PARENT_SCOPE)
endfunction()


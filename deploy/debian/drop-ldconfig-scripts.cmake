# CPack post-build script (CPACK_POST_BUILD_SCRIPTS): removes the postinst
# and postrm that CPack generates for libdurable-client0 only to call
# ldconfig. The package's ldconfig trigger (debian/lib/triggers) does that
# job once per dpkg run, as Debian's policy asks (lintian:
# maintscript-calls-ldconfig); CPack has no switch to leave them out.
foreach(package IN LISTS CPACK_PACKAGE_FILES)
  get_filename_component(name ${package} NAME)
  if(NOT name MATCHES "^libdurable-client0_.*\\.deb$")
    continue()
  endif()
  set(tree ${CPACK_TOPLEVEL_DIRECTORY}/repack-${name})
  file(REMOVE_RECURSE ${tree})
  execute_process(COMMAND dpkg-deb -R ${package} ${tree} COMMAND_ERROR_IS_FATAL ANY)
  foreach(script postinst postrm)
    file(READ ${tree}/DEBIAN/${script} body)
    # Only a script that does nothing but run ldconfig goes.
    string(REGEX REPLACE "#[^\n]*\n|set -e\n|ldconfig\n|if [^\n]*\n|fi\n|[ \t\n]" "" rest "${body}")
    if(NOT rest STREQUAL "")
      message(FATAL_ERROR "${name}: ${script} does more than run ldconfig:\n${body}")
    endif()
    file(REMOVE ${tree}/DEBIAN/${script})
  endforeach()
  execute_process(COMMAND dpkg-deb --root-owner-group -Zxz -b ${tree} ${package}
                  OUTPUT_QUIET COMMAND_ERROR_IS_FATAL ANY)
  file(REMOVE_RECURSE ${tree})
endforeach()

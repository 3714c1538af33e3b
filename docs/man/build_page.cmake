# Builds one man page: the scdoc source (with the version and, for
# durabled.conf(5), the config schema's fields spliced in by render_page.py)
# through scdoc into roff, then gzip. Run by docs/CMakeLists.txt as
#   cmake -DPYTHON=... -DSCDOC=... -DGZIP=... -DRENDER=... -DSOURCE=...
#         -DVERSION=... [-DPROTO=...] -DOUTPUT=<dir>/<page>.<section>.gz
#         [-DSOURCE_DATE_EPOCH=...] -P build_page.cmake
# Every step's failure fails the build, naming the page.
string(REGEX REPLACE "\\.gz$" "" roff "${OUTPUT}")
set(scd "${roff}.scd")
set(render_args --version "${VERSION}")
if(PROTO)
  list(APPEND render_args --proto "${PROTO}")
endif()
execute_process(COMMAND "${PYTHON}" "${RENDER}" ${render_args} "${SOURCE}" "${scd}"
                RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "render_page.py failed for ${SOURCE}")
endif()
# scdoc dates the page from SOURCE_DATE_EPOCH, if set (reproducible builds).
if(NOT "${SOURCE_DATE_EPOCH}" STREQUAL "")
  set(ENV{SOURCE_DATE_EPOCH} "${SOURCE_DATE_EPOCH}")
endif()
execute_process(COMMAND "${SCDOC}" INPUT_FILE "${scd}" OUTPUT_FILE "${roff}"
                RESULT_VARIABLE result ERROR_VARIABLE errors)
if(NOT result EQUAL 0)
  file(REMOVE "${roff}")
  message(FATAL_ERROR "scdoc failed for ${scd}: ${errors}")
endif()
# -n: no name or time stamp in the archive, so the .deb is reproducible.
execute_process(COMMAND "${GZIP}" -9 -n -c "${roff}" OUTPUT_FILE "${OUTPUT}"
                RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  file(REMOVE "${OUTPUT}")
  message(FATAL_ERROR "gzip failed for ${roff}")
endif()

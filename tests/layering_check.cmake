# Fails if an object of the lower components (base, engine) depends on a
# gRPC header or a generated .pb.h, as `ninja -t deps` records it. The
# include directories already stop them including a higher component's
# headers; this catches system headers (<grpcpp/...>) that those cannot.
#   cmake -DBUILD_DIR=... -DNINJA=... -P layering_check.cmake
execute_process(COMMAND ${NINJA} -C ${BUILD_DIR} -t deps
                OUTPUT_VARIABLE deps RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "ninja -t deps failed")
endif()
string(REPLACE "\n" ";" lines "${deps}")
set(current "")
set(checked 0)
set(violations "")
foreach(line IN LISTS lines)
  if(line MATCHES "^([^ ].*\\.o): #deps")
    set(current "${CMAKE_MATCH_1}")
    if(current MATCHES "durable_(base|engine)\\.dir/")
      math(EXPR checked "${checked} + 1")
    endif()
  elseif(current MATCHES "durable_(base|engine)\\.dir/" AND
         line MATCHES "(grpc|\\.pb\\.h)")
    string(STRIP "${line}" header)
    list(APPEND violations "${current}: ${header}")
  endif()
endforeach()
if(checked EQUAL 0)
  message(FATAL_ERROR "no base or engine objects in the deps log; build first")
endif()
if(violations)
  string(REPLACE ";" "\n  " shown "${violations}")
  message(FATAL_ERROR "lower components include gRPC or generated headers:\n  ${shown}")
endif()
message(STATUS "${checked} base and engine objects, none includes gRPC or a .pb.h")

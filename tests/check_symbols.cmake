# SPDX-License-Identifier: MIT
# Fails when the shared library exports a symbol without the mproc_ prefix.
# Usage: cmake -DLIB=path/to/libmproc.so -DNM=nm -P check_symbols.cmake
execute_process(COMMAND ${NM} -D --defined-only ${LIB}
                OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nm failed on ${LIB}")
endif()
string(REPLACE "\n" ";" lines "${out}")
set(count 0)
foreach(line ${lines})
  string(REGEX REPLACE "^.* " "" name "${line}")
  if(name STREQUAL "")
    continue()
  endif()
  if(NOT name MATCHES "^mproc_")
    message(FATAL_ERROR "exported without the mproc_ prefix: ${name}")
  endif()
  math(EXPR count "${count} + 1")
endforeach()
message(STATUS "${count} symbols exported, all mproc_*")

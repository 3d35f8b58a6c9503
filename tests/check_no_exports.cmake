# SPDX-License-Identifier: MIT
# Fails when the Windows program PROGRAM, linked with the static library,
# exports any mproc_ function: the static library's objects must be
# compiled without __declspec(dllexport).
#   cmake -DPROGRAM=... -DOBJDUMP=... -P check_no_exports.cmake
execute_process(COMMAND ${OBJDUMP} -p ${PROGRAM}
  OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${OBJDUMP} -p ${PROGRAM} failed")
endif()
string(REGEX MATCHALL "[^\n]*\\] mproc_[A-Za-z0-9_]*" exported "${out}")
list(LENGTH exported count)
if(count GREATER 0)
  string(REPLACE ";" "\n" exported "${exported}")
  message(FATAL_ERROR "${PROGRAM} exports ${count} mproc_ functions:\n${exported}")
endif()
message(STATUS "${PROGRAM}: no mproc_ function exported")

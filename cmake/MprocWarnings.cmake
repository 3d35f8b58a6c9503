# SPDX-License-Identifier: MIT
# Warnings and sanitizers for every target of this project (not for users).
if(MSVC)
  set(MPROC_WARNING_FLAGS /W3)
  if(MPROC_WERROR)
    list(APPEND MPROC_WARNING_FLAGS /WX)
  endif()
else()
  # -Wvla: MSVC has no variable-length arrays, so none may creep in here.
  set(MPROC_WARNING_FLAGS -Wall -Wextra -Wshadow -Wpointer-arith -Wcast-qual
      -Wformat=2 -Wundef -Wvla)
  if(MPROC_WERROR)
    list(APPEND MPROC_WARNING_FLAGS -Werror)
  endif()
endif()

function(mproc_target_flags target)
  target_compile_options(${target} PRIVATE ${MPROC_WARNING_FLAGS})
  if(MPROC_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${MPROC_SANITIZE}
                           -fno-omit-frame-pointer -fno-sanitize-recover=all)
    target_link_options(${target} PRIVATE -fsanitize=${MPROC_SANITIZE})
  endif()
endfunction()

# SPDX-License-Identifier: MIT
# Cross-compile mproc for 64-bit Windows with MinGW-w64, and run what it
# builds (tests, test discovery) under Wine:
#   cmake -S . -B build/win -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(MPROC_MINGW_TRIPLE x86_64-w64-mingw32)
# The posix thread model's runtime (winpthread) gives GoogleTest and the
# C++ library their std::thread; both are linked statically below.
find_program(CMAKE_C_COMPILER NAMES ${MPROC_MINGW_TRIPLE}-gcc-posix
                                    ${MPROC_MINGW_TRIPLE}-gcc REQUIRED)
find_program(CMAKE_CXX_COMPILER NAMES ${MPROC_MINGW_TRIPLE}-g++-posix
                                      ${MPROC_MINGW_TRIPLE}-g++ REQUIRED)
find_program(CMAKE_RC_COMPILER NAMES ${MPROC_MINGW_TRIPLE}-windres)

set(CMAKE_FIND_ROOT_PATH /usr/${MPROC_MINGW_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Programs that need no MinGW DLL beside them, so Wine (or a Windows
# machine) runs them from anywhere.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static")

find_program(MPROC_WINE NAMES wine wine64)
if(MPROC_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${MPROC_WINE})
endif()

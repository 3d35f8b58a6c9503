# SPDX-License-Identifier: MIT
# The MPI pool transport (libmproc_mpi, target mproc::mpi): built when an
# MPI implementation is found (MPROC_WITH_MPI=AUTO), required (ON) or not
# built (OFF). Only that library links MPI; the core never does.
#
# To build it against another implementation than the default one, point
# FindMPI at its compiler wrapper, e.g. -DMPI_C_COMPILER=mpicc.mpich.
set(MPROC_MPI_ENABLED OFF)
if(MPROC_WITH_MPI STREQUAL "OFF")
  message(STATUS "mproc: MPI pool transport not built (MPROC_WITH_MPI=OFF)")
  return()
endif()
if(NOT MPROC_WITH_MPI MATCHES "^(AUTO|ON)$")
  message(FATAL_ERROR "MPROC_WITH_MPI must be AUTO, ON or OFF")
endif()
if(WIN32)
  # Its waits and threads are POSIX's; MPI clusters run POSIX systems.
  if(MPROC_WITH_MPI STREQUAL "ON")
    message(FATAL_ERROR "mproc: the MPI pool transport is built on POSIX systems only")
  endif()
  message(STATUS "mproc: MPI pool transport skipped (POSIX systems only)")
  return()
endif()
if(NOT MPROC_HAVE_CONDATTR_SETCLOCK)
  # Its waiters nap on a condition variable of the monotonic clock (macOS
  # has no pthread_condattr_setclock).
  if(MPROC_WITH_MPI STREQUAL "ON")
    message(FATAL_ERROR "mproc: the MPI pool transport needs pthread_condattr_setclock")
  endif()
  message(STATUS "mproc: MPI pool transport skipped (no pthread_condattr_setclock)")
  return()
endif()
find_package(MPI COMPONENTS C QUIET)
if(NOT MPI_C_FOUND)
  if(MPROC_WITH_MPI STREQUAL "ON")
    message(FATAL_ERROR "mproc: MPROC_WITH_MPI=ON but no MPI implementation was found")
  endif()
  message(STATUS "mproc: no MPI implementation found: the MPI pool transport "
                 "(mproc::mpi) is skipped; everything else is built")
  return()
endif()
set(MPROC_MPI_ENABLED ON)
message(STATUS "mproc: MPI pool transport built (MPI ${MPI_C_VERSION}, "
               "${MPI_C_COMPILER})")

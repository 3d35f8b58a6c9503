# SPDX-License-Identifier: MIT
# Installation: the header, both libraries, a relocatable CMake package
# (find_package(mproc CONFIG) gives mproc::mproc and mproc::mproc_static)
# and mproc.pc for pkg-config.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(MPROC_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/mproc)

install(FILES ${PROJECT_SOURCE_DIR}/include/mproc.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(TARGETS mproc mproc_static
  EXPORT mprocTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# The MPI pool transport, when it is built: its header and library, in the
# same CMake package (mproc::mpi; find_package(mproc COMPONENTS mpi)) and
# with a pkg-config file of its own, mproc-mpi.pc.
if(TARGET mproc_mpi)
  install(FILES ${PROJECT_SOURCE_DIR}/include/mproc_mpi.h
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(TARGETS mproc_mpi
    EXPORT mprocTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endif()
install(EXPORT mprocTargets
  NAMESPACE mproc::
  DESTINATION ${MPROC_CMAKE_DIR})

configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/mprocConfig.cmake.in
  ${PROJECT_BINARY_DIR}/mprocConfig.cmake
  INSTALL_DESTINATION ${MPROC_CMAKE_DIR})
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/mprocConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/mprocConfig.cmake
              ${PROJECT_BINARY_DIR}/mprocConfigVersion.cmake
        DESTINATION ${MPROC_CMAKE_DIR})

# pkg-config: static linking needs the system libraries too.
include(MprocPkgConfig)
mproc_install_pkg_config(NAME mproc
  DESCRIPTION "Python's multiprocessing model for C: Process, Pool, Queue, Lock"
  LIBS -lmproc
  LIBS_PRIVATE_FROM mproc_static)
if(TARGET mproc_mpi)
  mproc_install_pkg_config(NAME mproc-mpi
    DESCRIPTION "mproc's Pool on MPI ranks (static or spawned workers)"
    LIBS -lmproc_mpi
    REQUIRES mproc)
endif()

# mproc-ps's manual page, wherever the tree keeps it.
if(MPROC_BUILD_TOOLS)
  foreach(page tools/mproc-ps.1 docs/mproc-ps.1)
    if(EXISTS ${PROJECT_SOURCE_DIR}/${page})
      install(FILES ${PROJECT_SOURCE_DIR}/${page}
              DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
    endif()
  endforeach()
endif()

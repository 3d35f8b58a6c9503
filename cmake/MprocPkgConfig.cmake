# SPDX-License-Identifier: MIT
# pkg-config files for mproc's libraries (mproc.pc, and any further library
# such as mproc-mpi.pc), correct for any prefix and any libdir.
#
#   mproc_install_pkg_config(
#     NAME name                  file name without .pc, and its Name:
#     DESCRIPTION text
#     LIBS flags...              Libs: after -L${libdir}, e.g. -lmproc
#     [REQUIRES pkgs...]         Requires:, e.g. mproc
#     [REQUIRES_PRIVATE pkgs...] Requires.private:
#     [LIBS_PRIVATE_FROM target] Libs.private: the system libraries this
#                                target links (plain names and
#                                Threads::Threads; other targets are left to
#                                REQUIRES)
#     [LIBS_PRIVATE flags...]    more Libs.private:
#     [CFLAGS flags...])         more Cflags: after -I${includedir}
#
# The file is relocatable: prefix is written relative to the file's own
# directory (${pcfiledir}), computed from CMAKE_INSTALL_LIBDIR however deep
# it is (lib, lib64, lib/x86_64-linux-gnu). When the libdir or includedir is
# an absolute path outside the prefix, the absolute paths are written.
include(GNUInstallDirs)

function(mproc_pc_system_libs target out)
  get_target_property(items ${target} INTERFACE_LINK_LIBRARIES)
  set(flags)
  foreach(item IN LISTS items)
    if(item STREQUAL "Threads::Threads")
      if(CMAKE_THREAD_LIBS_INIT)
        list(APPEND flags ${CMAKE_THREAD_LIBS_INIT})
      endif()
    elseif(TARGET ${item} OR item MATCHES "^\\$<|::")
      # A target (another of this project's libraries or an imported one):
      # the caller names its package in REQUIRES.
    elseif(item MATCHES "^-")
      list(APPEND flags ${item})
    elseif(item)
      list(APPEND flags -l${item})
    endif()
  endforeach()
  set(${out} ${flags} PARENT_SCOPE)
endfunction()

function(mproc_install_pkg_config)
  cmake_parse_arguments(PC "" "NAME;DESCRIPTION;LIBS_PRIVATE_FROM"
    "LIBS;REQUIRES;REQUIRES_PRIVATE;LIBS_PRIVATE;CFLAGS" ${ARGN})
  set(pcdir ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig)
  set(prefix ${CMAKE_INSTALL_PREFIX})
  file(RELATIVE_PATH libdir_rel ${prefix} ${CMAKE_INSTALL_FULL_LIBDIR})
  file(RELATIVE_PATH includedir_rel ${prefix} ${CMAKE_INSTALL_FULL_INCLUDEDIR})
  if(libdir_rel MATCHES "^\\.\\./|^/" OR includedir_rel MATCHES "^\\.\\./|^/")
    set(PC_PREFIX ${prefix})
    set(PC_LIBDIR ${CMAKE_INSTALL_FULL_LIBDIR})
    set(PC_INCLUDEDIR ${CMAKE_INSTALL_FULL_INCLUDEDIR})
  else()
    file(RELATIVE_PATH up ${pcdir} ${prefix})
    string(REGEX REPLACE "/$" "" up "${up}")
    set(PC_PREFIX "\${pcfiledir}/${up}")
    set(PC_LIBDIR "\${prefix}/${libdir_rel}")
    set(PC_INCLUDEDIR "\${prefix}/${includedir_rel}")
    if(includedir_rel STREQUAL "")
      set(PC_INCLUDEDIR "\${prefix}")
    endif()
  endif()

  set(private ${PC_LIBS_PRIVATE})
  if(PC_LIBS_PRIVATE_FROM)
    mproc_pc_system_libs(${PC_LIBS_PRIVATE_FROM} from_target)
    list(APPEND private ${from_target})
  endif()
  list(REMOVE_DUPLICATES private)
  string(REPLACE ";" " " PC_LIBS "${PC_LIBS}")
  string(REPLACE ";" " " PC_LIBS_PRIVATE "${private}")
  string(REPLACE ";" ", " PC_REQUIRES "${PC_REQUIRES}")
  string(REPLACE ";" ", " PC_REQUIRES_PRIVATE "${PC_REQUIRES_PRIVATE}")
  string(REPLACE ";" " " PC_CFLAGS "${PC_CFLAGS}")
  set(PC_VERSION ${PROJECT_VERSION})
  configure_file(${PROJECT_SOURCE_DIR}/cmake/mproc.pc.in
                 ${PROJECT_BINARY_DIR}/${PC_NAME}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/${PC_NAME}.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endfunction()

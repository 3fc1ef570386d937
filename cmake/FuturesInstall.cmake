# Installation of libfutures as a C library (included by CMakeLists.txt).
#
#   cmake --install build --prefix /usr/local
#
# installs
#   lib/libfutures.so.X.Y.Z          SONAME libfutures.so.X (set by build.rs)
#   lib/libfutures.so.X -> libfutures.so.X.Y.Z
#   lib/libfutures.so   -> libfutures.so.X
#   lib/libfutures.so.X.Y.Z.debug    its debug info (.gnu_debuglink points there)
#   lib/libfutures.a                 without debug info and LLVM bitcode
#   include/futures.h, include/futures.hpp
#   lib/pkgconfig/futures.pc        Libs with -Wl,-rpath,<libdir> (FUT_PC_RPATH)
#   lib/cmake/futures/futuresConfig.cmake, futuresConfigVersion.cmake
#     (find_package(futures): futures::futures shared, futures::static)
#
# FUT_STRIP_INSTALL (ON): the installed libraries carry no debug info; the
# shared library's goes to libfutures.so.X.Y.Z.debug beside it (gdb finds it
# through the .gnu_debuglink section). OFF installs cargo's files unchanged.
#
# Expects FUT_SHARED, FUT_STATIC, FUT_SOVERSION and FUT_STATIC_LINK_LIBS
# from CMakeLists.txt.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(FUT_REALNAME libfutures.so.${PROJECT_VERSION})
set(FUT_SONAME libfutures.so.${FUT_SOVERSION})

# ---- libraries and headers -------------------------------------------------
set(_fut_links ${CMAKE_CURRENT_BINARY_DIR}/install-links)
file(MAKE_DIRECTORY ${_fut_links})
file(CREATE_LINK ${FUT_REALNAME} ${_fut_links}/${FUT_SONAME} SYMBOLIC)
file(CREATE_LINK ${FUT_SONAME} ${_fut_links}/libfutures.so SYMBOLIC)

install(FILES ${_fut_links}/${FUT_SONAME} ${_fut_links}/libfutures.so
  DESTINATION ${CMAKE_INSTALL_LIBDIR})
option(FUT_STRIP_INSTALL "Install the libraries without debug info (the shared library's in a .debug file beside it)" ON)
if(NOT FUT_STRIP_INSTALL)
  install(FILES ${FUT_SHARED}
    DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RENAME ${FUT_REALNAME}
    PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                WORLD_READ WORLD_EXECUTE)
  install(FILES ${FUT_STATIC} DESTINATION ${CMAKE_INSTALL_LIBDIR})
else()
  if(NOT CMAKE_OBJCOPY)
    message(FATAL_ERROR "FUT_STRIP_INSTALL needs objcopy (binutils), or -DFUT_STRIP_INSTALL=OFF")
  endif()
  # objcopy writes the installed files from cargo's (DESTDIR included): the
  # debug info alone, the library without it plus a link to that file, and
  # the archive without debug info and without the LLVM bitcode rustc embeds
  # (for Rust LTO only; two thirds of the archive).
  install(CODE "
    set(_fut_lib \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}\")
    set(_fut_so \"\${_fut_lib}/${FUT_REALNAME}\")
    file(MAKE_DIRECTORY \"\${_fut_lib}\")
    message(STATUS \"Installing: \${_fut_so}.debug\")
    execute_process(COMMAND \"${CMAKE_OBJCOPY}\" --only-keep-debug \"${FUT_SHARED}\" \"\${_fut_so}.debug\"
                    COMMAND_ERROR_IS_FATAL ANY)
    message(STATUS \"Installing: \${_fut_so} (stripped)\")
    execute_process(COMMAND \"${CMAKE_OBJCOPY}\" --strip-debug \"--add-gnu-debuglink=${FUT_REALNAME}.debug\"
                            \"${FUT_SHARED}\" \"\${_fut_so}\"
                    WORKING_DIRECTORY \"\${_fut_lib}\" COMMAND_ERROR_IS_FATAL ANY)
    file(CHMOD \"\${_fut_so}\" PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
         GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
    file(CHMOD \"\${_fut_so}.debug\" PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
    message(STATUS \"Installing: \${_fut_lib}/libfutures.a (stripped)\")
    execute_process(COMMAND \"${CMAKE_OBJCOPY}\" --strip-debug --remove-section=.llvmbc --remove-section=.llvmcmd
                            \"${FUT_STATIC}\" \"\${_fut_lib}/libfutures.a\"
                    COMMAND_ERROR_IS_FATAL ANY)
    list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"\${_fut_so}\" \"\${_fut_so}.debug\" \"\${_fut_lib}/libfutures.a\")
  ")
endif()

install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/include/futures.h
              ${CMAKE_CURRENT_SOURCE_DIR}/include/futures.hpp
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# ---- pkg-config --------------------------------------------------------------
# The prefix is only known at install time (cmake --install --prefix), so the
# file is finished there: configure now, substitute %PREFIX% when installing.
set(FUT_PC_LIBS_PRIVATE "")
foreach(lib ${FUT_STATIC_LINK_LIBS})
  string(APPEND FUT_PC_LIBS_PRIVATE " -l${lib}")
endforeach()
string(STRIP "${FUT_PC_LIBS_PRIVATE}" FUT_PC_LIBS_PRIVATE)
# Programs linked through pkg-config find the library at run time through a
# RUNPATH to libdir, without LD_LIBRARY_PATH or ldconfig. Packagers of a
# system prefix (/usr) turn it off and run ldconfig instead.
option(FUT_PC_RPATH "futures.pc links with -Wl,-rpath,<libdir>" ON)
set(FUT_PC_RPATH_FLAG "")
if(FUT_PC_RPATH)
  set(FUT_PC_RPATH_FLAG "-Wl,-rpath,\${libdir} ")
endif()
configure_file(${CMAKE_CURRENT_SOURCE_DIR}/cmake/futures.pc.in
               ${CMAKE_CURRENT_BINARY_DIR}/futures.pc.template @ONLY)
install(CODE "
  file(READ \"${CMAKE_CURRENT_BINARY_DIR}/futures.pc.template\" _fut_pc)
  string(REPLACE \"%PREFIX%\" \"\${CMAKE_INSTALL_PREFIX}\" _fut_pc \"\${_fut_pc}\")
  file(WRITE \"${CMAKE_CURRENT_BINARY_DIR}/pkgconfig/futures.pc\" \"\${_fut_pc}\")
  file(INSTALL \"${CMAKE_CURRENT_BINARY_DIR}/pkgconfig/futures.pc\"
       DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig\")
")

# ---- CMake package -------------------------------------------------------------
set(FUT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/futures)
configure_package_config_file(${CMAKE_CURRENT_SOURCE_DIR}/cmake/futuresConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/futuresConfig.cmake
  INSTALL_DESTINATION ${FUT_CMAKE_DIR}
  PATH_VARS CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR)
# Before 1.0 a minor release may break the ABI (semver), so 0.x packages only
# satisfy requests for the same minor version; from 1.0 on, the same major.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(_fut_compat SameMinorVersion)
else()
  set(_fut_compat SameMajorVersion)
endif()
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/futuresConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY ${_fut_compat})
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/futuresConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/futuresConfigVersion.cmake
  DESTINATION ${FUT_CMAKE_DIR})

# Installation of libfutures as a C library (included by CMakeLists.txt).
#
#   cmake --install build --prefix /usr/local
#
# installs
#   lib/libfutures.so.X.Y.Z          SONAME libfutures.so.X (set by build.rs)
#   lib/libfutures.so.X -> libfutures.so.X.Y.Z
#   lib/libfutures.so   -> libfutures.so.X
#   lib/libfutures.a
#   include/futures.h, include/futures.hpp
#   lib/pkgconfig/futures.pc
#   lib/cmake/futures/futuresConfig.cmake, futuresConfigVersion.cmake
#     (find_package(futures): futures::futures shared, futures::static)
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

install(FILES ${FUT_SHARED}
  DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RENAME ${FUT_REALNAME}
  PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
              WORLD_READ WORLD_EXECUTE)
install(FILES ${_fut_links}/${FUT_SONAME} ${_fut_links}/libfutures.so
  DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${FUT_STATIC} DESTINATION ${CMAKE_INSTALL_LIBDIR})
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

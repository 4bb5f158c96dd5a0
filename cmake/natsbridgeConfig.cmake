# SPDX-License-Identifier: MIT
# natsbridge CMake package: find_package(natsbridge) gives natsbridge::natsbridge
# and natsbridge::natsbridge_static. The dependencies come from pkg-config, as
# in the build itself.
include(CMakeFindDependencyMacro)
find_dependency(PkgConfig)
find_dependency(Threads)
pkg_check_modules(NATS REQUIRED IMPORTED_TARGET libnats)
pkg_check_modules(CJSON REQUIRED IMPORTED_TARGET libcjson)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
pkg_check_modules(CRYPTO REQUIRED IMPORTED_TARGET libcrypto)
pkg_check_modules(UUID REQUIRED IMPORTED_TARGET uuid)
include("${CMAKE_CURRENT_LIST_DIR}/natsbridgeTargets.cmake")

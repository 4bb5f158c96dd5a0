# SPDX-License-Identifier: MIT
# The Node.js binding (issue 14, bindings/node): a Node-API addon written in C, built here
# against the Node-API headers the system has (Debian's libnode-dev puts them in
# /usr/include/node), so that no header is downloaded at build time (no node-gyp).
# The addon links the static library, so bindings/node needs nothing but natsbridge.node.
# `cmake --install` puts the package into <prefix>/lib/node_modules/natsbridge, npm's global
# layout; `npm install ./bindings/node` finds the addon of the build directory (lib/addon.js).

find_path(NB_NODE_API_INCLUDE_DIR node_api.h
  HINTS ENV NODE_API_HEADERS
  PATHS /usr/include/node /usr/local/include/node
        ${CMAKE_CURRENT_SOURCE_DIR}/bindings/node/node_modules/node-api-headers/include)
if(NB_NODE_API_INCLUDE_DIR)
  set(_nb_node_default ON)
else()
  set(_nb_node_default OFF)
endif()
option(NB_BUILD_NODE "Build the Node.js binding (needs the Node-API headers)" ${_nb_node_default})

if(NB_BUILD_NODE)
  if(NOT NB_NODE_API_INCLUDE_DIR)
    message(FATAL_ERROR "NB_BUILD_NODE: node_api.h not found (apt-get install libnode-dev, or "
                        "set NODE_API_HEADERS to the include dir of npm's node-api-headers)")
  endif()
  add_library(natsbridge_node MODULE
    bindings/node/src/addon.c bindings/node/src/ops.c bindings/node/src/subs.c)
  target_include_directories(natsbridge_node PRIVATE ${NB_NODE_API_INCLUDE_DIR})
  target_link_libraries(natsbridge_node PRIVATE natsbridge_static)
  target_compile_definitions(natsbridge_node PRIVATE NODE_GYP_MODULE_NAME=natsbridge)
  set_target_properties(natsbridge_node PROPERTIES
    PREFIX "" SUFFIX ".node" OUTPUT_NAME natsbridge
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bindings/node
    C_VISIBILITY_PRESET hidden)

  set(_nb_node_dest ${CMAKE_INSTALL_LIBDIR}/node_modules/natsbridge)
  if(NOT IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
    set(_nb_node_dest lib/node_modules/natsbridge) # npm's global layout, whatever the multiarch
  endif()
  install(TARGETS natsbridge_node LIBRARY DESTINATION ${_nb_node_dest} COMPONENT node)
  install(FILES bindings/node/package.json bindings/node/README.md
          DESTINATION ${_nb_node_dest} COMPONENT node)
  install(DIRECTORY bindings/node/lib bindings/node/types DESTINATION ${_nb_node_dest}
          COMPONENT node)
endif()

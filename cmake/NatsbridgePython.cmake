# SPDX-License-Identifier: MIT
# Install rule of the Python binding (issue 14, docs/BINDINGS.md): the pure-Python package
# bindings/python/natsbridge goes to <prefix>/lib/python3/dist-packages/natsbridge (Debian's
# layout for packages of every Python 3), in the "python" component. The package finds the
# library in <prefix>/lib or <prefix>/lib/<multiarch> from there. NB_INSTALL_PYTHON=OFF skips it.
option(NB_INSTALL_PYTHON "Install the Python binding into <prefix>/lib/python3/dist-packages" ON)
set(NB_PYTHON_INSTALL_DIR "lib/python3/dist-packages" CACHE STRING
    "Where cmake --install puts the Python package natsbridge (relative to the prefix)")
if(NB_INSTALL_PYTHON)
  install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/bindings/python/natsbridge
          DESTINATION ${NB_PYTHON_INSTALL_DIR} COMPONENT python
          FILES_MATCHING PATTERN "*.py" PATTERN "__pycache__" EXCLUDE)
endif()

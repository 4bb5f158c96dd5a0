# SPDX-License-Identifier: MIT
# The Python binding (issue 14, docs/BINDINGS.md).
# Install rule: the package bindings/python/natsbridge goes to
# <prefix>/lib/python3/dist-packages/natsbridge (Debian's layout for packages of every Python
# 3), in the "python" component. The package finds the library in <prefix>/lib or
# <prefix>/lib/<multiarch> from there. NB_INSTALL_PYTHON=OFF skips it.
# The native extension natsbridge._native (bindings/python/src/_native.c): the binding's hot
# paths in C, built when the headers of a CPython 3 are found (Debian: python3-dev). Its file
# name carries the ABI (_native.cpython-311-x86_64-linux-gnu.so), so another Python installed
# beside it simply does not load it and runs the ctypes code instead. It does not link
# libnatsbridge: it resolves its entry points in the copy ctypes loaded.
option(NB_INSTALL_PYTHON "Install the Python binding into <prefix>/lib/python3/dist-packages" ON)
set(NB_PYTHON_INSTALL_DIR "lib/python3/dist-packages" CACHE STRING
    "Where cmake --install puts the Python package natsbridge (relative to the prefix)")

find_package(Python3 COMPONENTS Interpreter Development.Module)
if(Python3_Development.Module_FOUND)
  set(_nb_pynative_default ON)
else()
  set(_nb_pynative_default OFF)
endif()
option(NB_BUILD_PYTHON_NATIVE "Build the Python binding's native extension (needs python3-dev)"
       ${_nb_pynative_default})

if(NB_BUILD_PYTHON_NATIVE)
  if(NOT Python3_Development.Module_FOUND)
    message(FATAL_ERROR "NB_BUILD_PYTHON_NATIVE: Python.h not found (apt-get install python3-dev)")
  endif()
  Python3_add_library(natsbridge_pynative MODULE WITH_SOABI bindings/python/src/_native.c)
  target_include_directories(natsbridge_pynative PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(natsbridge_pynative PRIVATE ${CMAKE_DL_LIBS})
  set_target_properties(natsbridge_pynative PROPERTIES
    OUTPUT_NAME _native
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bindings/python
    C_VISIBILITY_PRESET hidden)
endif()

if(NB_INSTALL_PYTHON)
  install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/bindings/python/natsbridge
          DESTINATION ${NB_PYTHON_INSTALL_DIR} COMPONENT python
          FILES_MATCHING PATTERN "*.py" PATTERN "__pycache__" EXCLUDE)
  if(NB_BUILD_PYTHON_NATIVE)
    install(TARGETS natsbridge_pynative LIBRARY DESTINATION ${NB_PYTHON_INSTALL_DIR}/natsbridge
            COMPONENT python)
  endif()
endif()

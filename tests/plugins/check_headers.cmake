# tests/plugins/check_headers.cmake - the plugin writer's view of the public
# headers: install the kgd_dev component into a scratch prefix, then compile
# every installed header alone and a whole plugin (abi_plugin.c) against
# that prefix only, warnings as errors. Run by ctest as test_abi_headers.
# Inputs: -DBUILD=<build dir> -DCC=<compiler> -DSRC=<source dir>.
cmake_minimum_required(VERSION 3.20)
set(prefix ${BUILD}/abi-install)
file(REMOVE_RECURSE ${prefix})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD} --component kgd_dev
  --prefix ${prefix} RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install --component kgd_dev failed")
endif()
file(GLOB headers RELATIVE ${prefix}/include ${prefix}/include/kgd/*.h)
foreach(h kgd/driver.h kgd/status.h kgd/xport.h kgd/scpi.h kgd/drv_std.h)
  if(NOT h IN_LIST headers)
    message(FATAL_ERROR "${h} is not installed (installed: ${headers})")
  endif()
endforeach()
foreach(h ${headers})
  string(MAKE_C_IDENTIFIER ${h} id)
  file(WRITE ${prefix}/${id}.c "#include \"${h}\"\nint kgd_header_check_${id};\n")
  execute_process(COMMAND ${CC} -std=c11 -Wall -Wextra -Werror -pedantic -c
    -I${prefix}/include ${prefix}/${id}.c -o ${prefix}/${id}.o
    RESULT_VARIABLE rc ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${h} does not compile on its own:\n${out}")
  endif()
endforeach()
execute_process(COMMAND ${CC} -std=c11 -Wall -Wextra -Werror -fPIC -shared
  -I${prefix}/include ${SRC}/tests/plugins/abi_plugin.c -o ${prefix}/plugin.so
  RESULT_VARIABLE rc ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "a plugin does not build from the installed headers:\n${out}")
endif()
message(STATUS "installed headers: ${headers}: self-contained")

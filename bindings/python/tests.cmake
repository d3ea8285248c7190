# The Python tests (tests/python/test_*.py): one ctest test per module, all
# named py_*, run with the build tree's package on PYTHONPATH and the plugin
# paths in the environment. Included from CMakeLists.txt when
# ACTOR_BUILD_TESTS is ON.

# A C plugin of our own: C classes that ask Python actors ("Relay") and reply
# with every kind of layout ("Echo"); a publisher that can fail ("Pub", 1.1).
add_library(actor_pytest_plugin MODULE "${PROJECT_SOURCE_DIR}/tests/python/pytest_plugin.c")
target_link_libraries(actor_pytest_plugin PRIVATE actor)
target_compile_options(actor_pytest_plugin PRIVATE -Wall -Wextra)
set_target_properties(actor_pytest_plugin PROPERTIES
  OUTPUT_NAME actor_pytest_plugin PREFIX lib C_VISIBILITY_PRESET hidden)
add_dependencies(actor_python actor_pytest_plugin)

set(_actor_py_env
  "PYTHONPATH=${PROJECT_BINARY_DIR}/python"
  "PYTHONDONTWRITEBYTECODE=1"
  "PYTHONFAULTHANDLER=1"
  "ACTOR_TEST_PLUGIN=$<TARGET_FILE:actor_pytest_plugin>"
  "ACTOR_BUILD_DIR=${PROJECT_BINARY_DIR}"
  "ACTOR_CMAKE=${CMAKE_COMMAND}"
  "ACTOR_PYTHON_SITEDIR=${ACTOR_PYTHON_SITEDIR}")
if(TARGET calculator_plugin)
  list(APPEND _actor_py_env "ACTOR_CALCULATOR_PLUGIN=$<TARGET_FILE:calculator_plugin>")
endif()

# Sanitizer builds: the interpreter is not instrumented, so the sanitizer
# runtime must be preloaded before it (LD_PRELOAD), and LeakSanitizer is off
# (CPython keeps much memory alive at exit by design). Timing-sensitive
# limits in the tests are scaled by ACTOR_TEST_SLOW.
set(_actor_py_timeout 120)
if(ACTOR_SANITIZE OR ACTOR_TSAN)
  if(ACTOR_TSAN)
    set(_actor_san_lib libtsan.so)
    set(_actor_san_opts
      "TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=${CMAKE_CURRENT_SOURCE_DIR}/tsan.supp")
  else()
    set(_actor_san_lib libasan.so)
    set(_actor_san_opts "ASAN_OPTIONS=detect_leaks=0:halt_on_error=1"
                        "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1")
  endif()
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=${_actor_san_lib}
    OUTPUT_VARIABLE _actor_san_path OUTPUT_STRIP_TRAILING_WHITESPACE)
  get_filename_component(_actor_san_path "${_actor_san_path}" REALPATH)
  list(APPEND _actor_py_env "LD_PRELOAD=${_actor_san_path}" ${_actor_san_opts}
       "ACTOR_TEST_SLOW=10")
  set(_actor_py_timeout 600)
endif()

set(ACTOR_PY_TESTS
  test_basic
  test_payloads
  test_errors
  test_asyncio
  test_future
  test_pyactors
  test_limits
  test_exit
  test_forward
  test_hostile
  test_time
  test_flow
  test_failure
  test_compose)
foreach(_t IN LISTS ACTOR_PY_TESTS)
  string(REGEX REPLACE "^test_" "py_" _name "${_t}")
  add_test(NAME ${_name}
    COMMAND "${Python3_EXECUTABLE}" -m unittest -v ${_t}
    WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}/tests/python")
  set_tests_properties(${_name} PROPERTIES
    TIMEOUT ${_actor_py_timeout}
    ENVIRONMENT "${_actor_py_env}")
endforeach()

# The example (examples/calculator.py) and a smoke run of bench/python_asks.py.
add_test(NAME py_example_calculator
  COMMAND "${Python3_EXECUTABLE}" -m unittest -v test_example
  WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}/tests/python")
set_tests_properties(py_example_calculator PROPERTIES
  TIMEOUT ${_actor_py_timeout}
  ENVIRONMENT "${_actor_py_env}")

# The seed's Calculator-with-forward flow from Python: a Python User actor
# asks the C Calculator and gets the answer in its @actor.on_response.
if(TARGET calculator_plugin)
  add_test(NAME py_example_calculator_forward
    COMMAND "${Python3_EXECUTABLE}" "${PROJECT_SOURCE_DIR}/examples/calculator_forward.py"
            "$<TARGET_FILE:calculator_plugin>"
    WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}")
  set_tests_properties(py_example_calculator_forward PROPERTIES
    TIMEOUT ${_actor_py_timeout}
    ENVIRONMENT "${_actor_py_env}"
    PASS_REGULAR_EXPRESSION "(^|\n)Sum: 3\n"
    FAIL_REGULAR_EXPRESSION "Traceback|Sanitizer|Fatal Python error")
endif()

# The Python twin of examples/supervision.c: a Worker failing on every 3rd
# message under a one_for_one supervisor, on a manual runtime (the same
# output as the C program's, every run).
add_test(NAME py_example_supervision
  COMMAND "${Python3_EXECUTABLE}" "${PROJECT_SOURCE_DIR}/examples/supervision.py"
  WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}")
set_tests_properties(py_example_supervision PROPERTIES
  TIMEOUT ${_actor_py_timeout}
  ENVIRONMENT "${_actor_py_env}"
  PASS_REGULAR_EXPRESSION "^square\\(1\\) = 1\nsquare\\(2\\) = 4\nsquare\\(3\\): canceled \\(the worker failed\\)\nsquare\\(4\\) = 16\nsquare\\(5\\) = 25\nsquare\\(6\\): canceled \\(the worker failed\\)\nsquare\\(7\\) = 49\nthe same address throughout; the worker was restarted 2 times\nworker done: yes\n$"
  FAIL_REGULAR_EXPRESSION "Traceback|Sanitizer|Fatal Python error")

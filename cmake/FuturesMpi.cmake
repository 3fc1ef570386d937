# The MPI executor (issue 16, behaviours M1-M11): libfutures_mpi.so, a C
# library on the public API of libfutures and the C API of MPI, so that
# libfutures itself keeps no MPI dependency. Included with -DFUTURES_MPI=ON.
find_package(MPI REQUIRED COMPONENTS C)
find_package(Threads REQUIRED)

add_library(futures_mpi SHARED ${PROJECT_SOURCE_DIR}/mpi/pool.c ${PROJECT_SOURCE_DIR}/mpi/serve.c)
target_include_directories(futures_mpi PUBLIC
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:include>)
target_compile_options(futures_mpi PRIVATE ${FUT_WARNINGS} ${FUT_SAN_FLAGS})
target_link_options(futures_mpi PRIVATE ${FUT_SAN_FLAGS})
target_link_libraries(futures_mpi PUBLIC futures MPI::MPI_C PRIVATE Threads::Threads)
set_target_properties(futures_mpi PROPERTIES C_STANDARD 11 VERSION ${FUT_SOVERSION} SOVERSION ${FUT_SOVERSION})
install(TARGETS futures_mpi LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${PROJECT_SOURCE_DIR}/include/futures_mpi.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# Tests: every case is one mpirun of 4 ranks (the host and 3 workers).
# Open MPI needs leave to run more ranks than cores and to run as root (CI);
# MPICH's mpiexec does both without flags and knows neither.
execute_process(COMMAND ${MPIEXEC_EXECUTABLE} --version OUTPUT_VARIABLE FUT_MPIEXEC_VERSION ERROR_QUIET)
if(FUT_MPIEXEC_VERSION MATCHES "Open MPI|OpenRTE")
  set(FUT_MPIEXEC_FLAGS --oversubscribe --allow-run-as-root)
else()
  set(FUT_MPIEXEC_FLAGS "")
endif()
set(FUT_MPIRUN ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 4 ${FUT_MPIEXEC_FLAGS})
add_executable(test_mpi ${PROJECT_SOURCE_DIR}/c_tests/mpi/test_mpi.c)
fut_program(test_mpi)
target_link_libraries(test_mpi PRIVATE futures_mpi)
foreach(case tasks map errors cancel shutdown callback mixed payload)
  add_test(NAME mpi_${case} COMMAND ${FUT_MPIRUN} $<TARGET_FILE:test_mpi> ${case})
  set_tests_properties(mpi_${case} PROPERTIES TIMEOUT 120 LABELS "mpi")
endforeach()
# M11: a task that calls abort() ends the job with mpirun's message, not a hang.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_test(NAME mpi_abort COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/c_tests/mpi/expect_abort.py 60
  ${FUT_MPIRUN} $<TARGET_FILE:test_mpi> abort)
set_tests_properties(mpi_abort PROPERTIES TIMEOUT 120 LABELS "mpi")

add_executable(mpi_hash ${PROJECT_SOURCE_DIR}/examples_c/mpi_hash.c)
fut_program(mpi_hash)
target_link_libraries(mpi_hash PRIVATE futures_mpi)
add_test(NAME mpi_example_hash COMMAND ${FUT_MPIRUN} $<TARGET_FILE:mpi_hash> ${PROJECT_SOURCE_DIR}/src)
set_tests_properties(mpi_example_hash PROPERTIES TIMEOUT 120 LABELS "mpi")

# Benchmark beside mpi4py.futures (not a test): benches/mpi/run.sh BUILD_DIR.
add_executable(bench_mpi ${PROJECT_SOURCE_DIR}/benches/mpi/bench_mpi.c)
target_compile_options(bench_mpi PRIVATE ${FUT_WARNINGS} -O2)
target_link_libraries(bench_mpi PRIVATE futures_mpi)

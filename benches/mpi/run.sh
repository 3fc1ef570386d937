#!/bin/sh
# libfutures_mpi beside mpi4py.futures: same workloads, same rank count, in
# one run. Needs a build with -DFUTURES_MPI=ON (target bench_mpi) and
# Debian's python3-mpi4py (/usr/bin/python3: a pyenv python3 on PATH lacks it).
# Usage: benches/mpi/run.sh BUILD_DIR [RANKS] [N_SMALL N_CHUNKED N_LARGE]
set -eu
build=${1:?usage: run.sh BUILD_DIR [RANKS] [N_SMALL N_CHUNKED N_LARGE]}
ranks=${2:-4}
counts="${3:-20000} ${4:-100000} ${5:-200}"
here=$(dirname "$0")
mpirun="mpirun -n $ranks --oversubscribe --allow-run-as-root"
echo "# libfutures_mpi ($ranks ranks; counts $counts)"
$mpirun "$build/bench_mpi" $counts
echo "# mpi4py.futures $(/usr/bin/python3 -c 'import mpi4py; print(mpi4py.__version__)') ($ranks ranks)"
$mpirun /usr/bin/python3 "$here/bench_mpi4py.py" $counts

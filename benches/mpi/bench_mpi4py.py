"""mpi4py.futures beside libfutures_mpi (benches/mpi/run.sh): the same three
workloads, same rank count, same machine. Run as
    mpirun -n 4 /usr/bin/python3 bench_mpi4py.py N_SMALL N_CHUNKED N_LARGE
Prints one line per workload: name, count, seconds, rate."""
import sys
import time

from mpi4py import MPI
from mpi4py.futures import MPICommExecutor, wait


def echo(b):
    return b


def length(b):
    return len(b)


def main():
    n_small, n_chunked, n_large = (int(a) for a in sys.argv[1:4])
    with MPICommExecutor(MPI.COMM_WORLD, root=0) as ex:
        if ex is None:
            return  # a worker: served until the executor closed
        small = b"x" * 64
        # warm-up: workers start and import
        wait([ex.submit(echo, small) for _ in range(100)])
        t = time.perf_counter()
        fs = [ex.submit(echo, small) for _ in range(n_small)]
        wait(fs)
        assert all(f.result() == small for f in fs)
        dt = time.perf_counter() - t
        print(f"tasks_64B_unbatched {n_small} {dt:.4f} {n_small / dt:.0f} tasks/s", flush=True)
        t = time.perf_counter()
        out = list(ex.map(echo, [small] * n_chunked, chunksize=256))
        dt = time.perf_counter() - t
        assert len(out) == n_chunked
        print(f"tasks_64B_chunk256 {n_chunked} {dt:.4f} {n_chunked / dt:.0f} tasks/s", flush=True)
        big = b"y" * (1 << 20)
        t = time.perf_counter()
        fs = [ex.submit(length, big) for _ in range(n_large)]
        wait(fs)
        assert all(f.result() == len(big) for f in fs)
        dt = time.perf_counter() - t
        print(f"payload_1MiB {n_large} {dt:.4f} {n_large / dt:.1f} MiB/s", flush=True)


main()

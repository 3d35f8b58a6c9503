# SPDX-License-Identifier: MIT
"""The workloads of mpi_pool_bench.c with mpi4py.futures.MPIPoolExecutor:
apply round trip, map with chunksize 1, map of tiny items with the same
default chunking as mproc's (ceil(count / (4 * workers))), and the speed-up
of a CPU-bound map over running it here with the share of a core this
process takes meanwhile. Run it under the same launcher:

    mpiexec -n 3 python3 -m mpi4py.futures mpi_pool_bench.py

Each figure is printed as `key value` for mpi_pool_bench.sh."""
import math
import resource
import time

from mpi4py import MPI
from mpi4py.futures import MPIPoolExecutor

# Python is slower per round than C: fewer rounds, for tasks as long
# (about 5 ms), and as many of them per worker.
SPIN_ROUNDS = 80000
SPIN_TASKS_PER_WORKER = 24


def empty_task():
    return None


def add_one(v):
    return v + 1


def spin(x):
    for _ in range(SPIN_ROUNDS):
        x = (x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
    return x


def own_cpu_seconds():
    """CPU time this process (all its threads) has used so far."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def main():
    workers = MPI.COMM_WORLD.Get_size() - 1
    with MPIPoolExecutor() as ex:
        print("workers %d" % workers)
        for _ in range(200):
            ex.submit(empty_task).result()
        n = 2000
        t = time.perf_counter()
        for _ in range(n):
            ex.submit(empty_task).result()
        print("apply_round_trip_us %.2f" % ((time.perf_counter() - t) / n * 1e6))
        count = 20000
        t = time.perf_counter()
        out = list(ex.map(add_one, range(count), chunksize=1))
        assert out[-1] == count
        print("map_chunksize1_per_s %.0f" % (count / (time.perf_counter() - t)))
        count = 2000000
        chunk = math.ceil(count / (4 * workers))
        t = time.perf_counter()
        out = list(ex.map(add_one, range(count), chunksize=chunk))
        assert out[-1] == count
        print("map_tiny_per_s %.0f" % (count / (time.perf_counter() - t)))
        tasks = SPIN_TASKS_PER_WORKER * workers
        t = time.perf_counter()
        serial = [spin(i) for i in range(tasks)]
        serial_t = time.perf_counter() - t
        own = own_cpu_seconds()
        t = time.perf_counter()
        out = list(ex.map(spin, range(tasks), chunksize=1))
        par_t = time.perf_counter() - t
        own = own_cpu_seconds() - own
        assert out == serial
        print("cpu_speedup_per_worker %.3f" % (serial_t / par_t / workers))
        print("cpu_owner_core_share %.4f" % (own / par_t))


if __name__ == "__main__":
    main()

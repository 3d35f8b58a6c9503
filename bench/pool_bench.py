# SPDX-License-Identifier: MIT
"""The same workloads with CPython's multiprocessing.Pool (fork), for
comparison with pool_bench: apply round trip (also with spawn and
forkserver workers), map with chunksize 1, map of tiny tasks with default
chunking, CPU-bound speed-up over one worker."""
import multiprocessing as mp
import os
import time


def empty_task():
    return b""


def add_one(v):
    return v + 1


def spin(x):
    for _ in range(20000):
        x = (x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
    return x


def best_of(k, fn):
    best = 1e9
    for _ in range(k):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    mp.set_start_method("fork")
    cores = os.cpu_count() or 1
    with mp.Pool() as pool:
        n = 2000
        dt = best_of(3, lambda: [pool.apply(empty_task) for _ in range(n)]) / n
        print("CPython multiprocessing.Pool, %d workers" % cores)
        print("  %-40s %10.1f us/op" % ("apply round trip", dt * 1e6))
        items = list(range(20000))
        dt = best_of(3, lambda: pool.map(add_one, items, chunksize=1))
        print("  %-40s %10.0f tasks/s" % ("map, chunksize 1", len(items) / dt))
        items = list(range(2000000))
        dt = best_of(3, lambda: pool.map(add_one, items))
        print("  %-40s %10.2f M tasks/s" % ("map, tiny tasks, default chunks",
                                            len(items) / dt / 1e6))
        work = list(range(cores * 10))
        tn = best_of(2, lambda: pool.map(spin, work, chunksize=1))
    with mp.Pool(1) as single:
        t1 = best_of(2, lambda: single.map(spin, work, chunksize=1))
    print("  %-40s %10.2fx on %d cores" % ("CPU-bound map speed-up vs 1 worker",
                                          t1 / tn, cores))
    for method in ("spawn", "forkserver"):
        t = time.perf_counter()
        with mp.get_context(method).Pool() as pool:
            pool.apply(empty_task)
            created = time.perf_counter() - t
            n = 2000
            dt = best_of(3, lambda: [pool.apply(empty_task)
                                     for _ in range(n)]) / n
        print("  %-40s %10.1f us/op (pool ready in %.0f ms)"
              % ("apply round trip, %s workers" % method, dt * 1e6,
                 created * 1e3))


if __name__ == "__main__":
    main()

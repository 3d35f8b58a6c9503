# SPDX-License-Identifier: MIT
"""The same workload with CPython's multiprocessing, for comparison:
start + join of a child that returns at once (fork start method)."""
import multiprocessing as mp
import sys
import time


def nothing():
    pass


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    mp.set_start_method("fork")
    t = time.perf_counter()
    for _ in range(n):
        p = mp.Process(target=nothing)
        p.start()
        p.join()
    dt = (time.perf_counter() - t) / n
    print("CPython multiprocessing.Process start+join (fork)")
    print("  %-34s %10.1f us/op" % ("Process().start(); join()", dt * 1e6))


if __name__ == "__main__":
    main()

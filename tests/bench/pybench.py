#!/usr/bin/python3
"""pybench.py - the Python contenders of `make bench` (tests/bench/run).

Owner: h11.  Run with Debian's /usr/bin/python3 and python3-numpy.

    pybench.py pool|pool1|ppe < tasks.jsonl
        noop tasks, one JSON object a line on stdin, parsed here with
        json.loads and mapped over 2 processes: multiprocessing.Pool.map
        with its default chunking (pool), with chunksize=1 (pool1), or
        concurrent.futures.ProcessPoolExecutor.map (ppe, chunksize 1, its
        default).  Results are collected in a list.
    pybench.py chol N T R     R times: X = uniform n x n, Z = X.T @ X
                              (numpy calls syrk), np.linalg.cholesky(Z),
                              with T BLAS threads
    pybench.py sort N R       R times: x = uniform(N), np.sort(x)
    pybench.py corename       the OpenBLAS core numpy runs on

Every mode prints one JSON line on stdout with the inner times (seconds;
for chol and sort each includes making the input); the driver times the
whole command from outside.
"""
import json
import os
import sys
import time


def noop(task):
    """The noop kernel: nothing to do, an answer to send back."""
    return None


def dispatch(mode):
    import concurrent.futures as cf
    import multiprocessing as mp

    tasks = [json.loads(line) for line in sys.stdin]
    t0 = time.perf_counter()
    if mode == "pool":
        with mp.Pool(2) as pool:
            res = pool.map(noop, tasks)
    elif mode == "pool1":
        with mp.Pool(2) as pool:
            res = pool.map(noop, tasks, chunksize=1)
    else:
        with cf.ProcessPoolExecutor(2) as ex:
            res = list(ex.map(noop, tasks))
    t1 = time.perf_counter()
    assert len(res) == len(tasks)
    return {"tasks": len(tasks), "seconds": t1 - t0}


def blas_corename():
    """The core type of the OpenBLAS that numpy has loaded."""
    import ctypes

    import numpy  # noqa: F401  (loads the BLAS)

    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if "blas" in path and path.startswith("/"):
                lib = ctypes.CDLL(path)
                try:
                    fn = lib.openblas_get_corename
                except AttributeError:
                    continue
                fn.restype = ctypes.c_char_p
                return fn().decode()
    return "unknown"


def chol(n, threads, reps):
    os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
    import numpy as np

    rng = np.random.default_rng(1)
    inner = []
    for _ in range(reps):
        t0 = time.perf_counter()
        x = rng.random((n, n))
        z = x.T @ x
        c = np.linalg.cholesky(z)
        inner.append(time.perf_counter() - t0)
    return {"n": n, "threads": threads, "inner": inner,
            "value": float(c[2, 1]) if n >= 3 else float(c[0, 0])}


def sort(n, reps):
    import numpy as np

    rng = np.random.default_rng(1)
    inner = []
    for _ in range(reps):
        t0 = time.perf_counter()
        x = rng.random(n)
        y = np.sort(x)
        inner.append(time.perf_counter() - t0)
    return {"n": n, "inner": inner, "median_value": float(y[(n - 1) // 2])}


def main(argv):
    if len(argv) == 2 and argv[1] in ("pool", "pool1", "ppe"):
        out = dispatch(argv[1])
    elif len(argv) == 5 and argv[1] == "chol":
        out = chol(int(argv[2]), int(argv[3]), int(argv[4]))
    elif len(argv) == 4 and argv[1] == "sort":
        out = sort(int(float(argv[2])), int(argv[3]))
    elif len(argv) == 2 and argv[1] == "corename":
        print(blas_corename())
        return 0
    else:
        print("usage: pybench.py pool|pool1|ppe | chol N T R | sort N R"
              " | corename", file=sys.stderr)
        return 2
    out["mode"] = argv[1]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""numpy peer for `tailgrad bench`: the same kernels and shapes, timed the same way.

Prints one JSON object per line on stdout with the keys of `tailgrad bench --json`
(kernel, shape, device, backend, variant, median_ms, gflops, gbps) and a table on stderr.
Timing: one untimed warm-up call, then `reps` reps; each rep runs enough calls to last about
`--target-ms` and divides, and the result is the median over reps.
"""

import argparse
import json
import math
import sys
import time

import numpy as np


def blas_name():
    """The BLAS numpy was built against (OpenBLAS for the PyPI wheels)."""
    try:
        blas = np.__config__.CONFIG["Build Dependencies"]["blas"]
        return f"{blas['name']}-{blas.get('version', '?')}"
    except (AttributeError, KeyError, TypeError):
        return "unknown-blas"


def measure(fn, reps, target_s):
    fn()
    t = time.perf_counter()
    fn()
    estimate = max(time.perf_counter() - t, 1e-6)
    iters = max(1, min(1000, math.ceil(target_s / estimate)))
    samples = []
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(iters):
            fn()
        samples.append((time.perf_counter() - t) / iters)
    samples.sort()
    mid = len(samples) // 2
    median = samples[mid] if len(samples) % 2 else (samples[mid - 1] + samples[mid]) / 2
    return median * 1e3, iters


def entries(quick):
    rng = np.random.default_rng(0)

    def rand(*shape):
        return rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)

    mm = [(n, n, n) for n in ((256, 512) if quick else (256, 512, 1024, 2048))]
    mm.append((16, 144, 4096 if quick else 65536))
    for m, n, k in mm:
        a, b = rand(m, k), rand(k, n)
        c = np.empty((m, n), np.float32)
        yield ("matmul", f"{m}x{n}x{k}", 2.0 * m * n * k, 4.0 * (m * k + k * n + m * n),
               lambda a=a, b=b, c=c: np.matmul(a, b, out=c))
    for n in ((1 << 20,) if quick else (1 << 20, 1 << 24)):
        a, b = rand(n), rand(n)
        c = np.empty(n, np.float32)
        # out= reuses the output like tailgrad's buffer pool does (no fresh pages per call).
        yield ("add", str(n), float(n), 12.0 * n, lambda a=a, b=b, c=c: np.add(a, b, out=c))
    for rows, cols in (((1024, 1024),) if quick else ((4096, 1024), (64, 65536))):
        x = rand(rows, cols)
        y = np.empty(rows, np.float32)
        yield ("sum_rows", f"{rows}x{cols}", float(rows * cols), 4.0 * (rows * cols + rows),
               lambda x=x, y=y: np.sum(x, axis=1, out=y))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("kernels", nargs="*", help="kernel name prefixes (default: all)")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--target-ms", type=float, default=30.0, help="aim for reps this long")
    ap.add_argument("--quick", action="store_true", help="small shapes, 3 reps")
    ap.add_argument("--json", metavar="FILE", help="also write the JSON lines to FILE")
    args = ap.parse_args()
    reps = 3 if args.quick else args.reps
    backend = blas_name()
    out = open(args.json, "w") if args.json else None
    print(f"{'kernel':<10} {'shape':<14} {'median ms':>10} {'GFLOP/s':>9} {'GB/s':>8}", file=sys.stderr)
    for kernel, shape, flops, nbytes, fn in entries(args.quick):
        if args.kernels and not any(kernel.startswith(k) for k in args.kernels):
            continue
        ms, iters = measure(fn, reps, args.target_ms / 1e3)
        rec = {
            "kernel": kernel, "shape": shape, "device": "cpu-numpy", "backend": backend,
            "variant": "default", "median_ms": ms, "gflops": flops / ms / 1e6,
            "gbps": nbytes / ms / 1e6, "reps": reps, "iters": iters, "numpy": np.__version__,
        }
        line = json.dumps(rec)
        print(line, flush=True)
        if out:
            out.write(line + "\n")
        print(f"{kernel:<10} {shape:<14} {ms:>10.3f} {rec['gflops']:>9.2f} {rec['gbps']:>8.2f}",
              file=sys.stderr, flush=True)
    if out:
        out.close()


if __name__ == "__main__":
    main()

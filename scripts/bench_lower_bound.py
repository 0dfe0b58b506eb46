#!/usr/bin/env python3
"""CPU time to inflate only the chunks that hold a shard's rows: the floor under any reader.

For each granule, the chunks holding the shard's rows (latitude, longitude, h_li,
h_li_sigma, atl06_quality_summary; found independently with h5py + healpy, as in
bench_reads.py) are read raw (`read_direct_chunk`) and inflated with the C zlib of Python's
standard library, repeatedly; the median time over all of them is the floor on decoding
alone. zagg's deflate backend (zlib-rs) is within a few per cent of C zlib
(docs/benchmarks.md); the shuffle filter of the quality flags is not undone (a byte
transpose, negligible). Printed next to a budget (e.g. the original's CPU time / 100).

Usage: bench_lower_bound.py --shard 41054 --granules /tmp/big/*.h5 [--budget-ms 23.7]
"""

import argparse
import os
import statistics
import sys
import time
import zlib

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from bench_reads import POSITION, VALUES, chunk_spans, shard_rows  # noqa: E402


def lower_bound_chunks(path, shard, leaf, parent, ellipsoid):
    """Raw (compressed) bytes of every chunk that holds a shard row, and the rows."""
    out, rows_total = [], 0
    with h5py.File(path, "r") as f:
        for g, rows in shard_rows(f, shard, leaf, parent, ellipsoid):
            rows_total += rows.size
            if rows.size == 0:
                continue
            for name in POSITION + VALUES:
                ds = g[name]
                for start, n, _ in chunk_spans(ds):
                    if np.any((rows >= start) & (rows < start + n)):
                        _, raw = ds.id.read_direct_chunk((start,))
                        out.append(raw)
    return out, rows_total


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shard", type=int, required=True)
    ap.add_argument("--granules", nargs="+", required=True)
    ap.add_argument("--leaf-order", type=int, default=12)
    ap.add_argument("--parent-order", type=int, default=6)
    ap.add_argument("--ellipsoid", default="WGS84")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--budget-ms", type=float, default=None,
                    help="a CPU budget to compare with, ms")
    args = ap.parse_args()
    chunks, rows = [], 0
    for path in args.granules:
        c, r = lower_bound_chunks(path, args.shard, args.leaf_order, args.parent_order,
                                  args.ellipsoid)
        chunks += c
        rows += r
    stored = sum(len(raw) for raw in chunks)
    decoded = sum(len(zlib.decompress(raw)) for raw in chunks)
    times = []
    for _ in range(args.repeat):
        t0 = time.process_time()
        for raw in chunks:
            zlib.decompress(raw)
        times.append(time.process_time() - t0)
    ms = statistics.median(times) * 1e3
    print(f"granules {len(args.granules)}, shard rows {rows}")
    print(f"lower-bound chunks {len(chunks)}: {stored / 1e6:.2f} MB stored, "
          f"{decoded / 1e6:.2f} MB inflated")
    print(f"inflate CPU, median of {args.repeat}: {ms:.1f} ms "
          f"({decoded / 1e6 / (ms / 1e3):.0f} MB/s out)")
    if args.budget_ms:
        print(f"budget {args.budget_ms:.1f} ms: the floor alone is {ms / args.budget_ms:.2f}x it")


if __name__ == "__main__":
    main()

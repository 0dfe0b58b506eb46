#!/usr/bin/env python3
"""Read cost of one shard: zagg's requests and bytes per granule against the lower bound.

For each granule of a shard, prints what zagg fetched (from a run report: `zagg run --json`
or the store's run.json) next to

* the lower bound: the compressed bytes of the chunks that hold the shard's rows, over the
  datasets a shard needs (latitude, longitude, h_li, h_li_sigma, atl06_quality_summary);
* this design's bound: every latitude/longitude chunk (read in full to find the shard's rows)
  plus the value chunks of the shard's row range;
* a full-file download.

The shard's rows are found independently (h5py + healpy, via tests/python/check_store.py).

Usage (see docs/benchmarks.md for the run that produced the recorded table):

    bench_reads.py --report report.json --shard 41045 --granules tests/data/demo/*.h5
"""

import argparse
import json
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "python"))
from check_store import hash_cells  # noqa: E402

BEAMS = ["gt1l", "gt1r", "gt2l", "gt2r", "gt3l", "gt3r"]
POSITION = ["latitude", "longitude"]
VALUES = ["h_li", "h_li_sigma", "atl06_quality_summary"]


def chunk_spans(ds: h5py.Dataset):
    """(first row, row count, stored bytes) of every chunk of a 1-D chunked dataset."""
    out = []
    rows = ds.chunks[0]
    for i in range(ds.id.get_num_chunks()):
        info = ds.id.get_chunk_info(i)
        out.append((info.chunk_offset[0], rows, info.size))
    return out


def bytes_for_rows(ds: h5py.Dataset, rows: np.ndarray) -> int:
    """Stored bytes of the chunks holding any of `rows`."""
    if rows.size == 0:
        return 0
    return sum(size for start, n, size in chunk_spans(ds) if np.any((rows >= start) & (rows < start + n)))


def shard_rows(f: h5py.File, shard: int, leaf: int, parent: int, ellipsoid: str):
    """(beam group, indices of its rows in the shard) for every non-empty beam of an open file."""
    for beam in BEAMS:
        group = f"{beam}/land_ice_segments"
        if group not in f or f[f"{group}/latitude"].shape[0] == 0:
            continue
        g = f[group]
        lat, lon = g["latitude"][:], g["longitude"][:]
        ok = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90)
        idx = np.nonzero(ok)[0]
        cells = hash_cells(lat[ok], lon[ok], leaf, ellipsoid)
        yield g, idx[(cells >> np.uint64(2 * (leaf - parent))) == np.uint64(shard)]


def lower_bound(g: h5py.Group, rows: np.ndarray) -> int:
    """Stored bytes of the chunks of every dataset a shard needs that hold `rows`."""
    return sum(bytes_for_rows(g[name], rows) for name in POSITION + VALUES)


def granule_bounds(path: str, shard: int, leaf: int, parent: int, ellipsoid: str):
    lower = design = 0
    with h5py.File(path, "r") as f:
        for g, rows in shard_rows(f, shard, leaf, parent, ellipsoid):
            lower += lower_bound(g, rows)
            for name in POSITION:
                design += sum(size for _, _, size in chunk_spans(g[name]))
            if rows.size:
                span = np.arange(rows.min(), rows.max() + 1)
                for name in VALUES:
                    design += bytes_for_rows(g[name], span)
    return lower, design, os.path.getsize(path)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--report", required=True, help="zagg run report (JSON)")
    p.add_argument("--shard", type=int, required=True, help="shard nested id at the parent order")
    p.add_argument("--granules", nargs="+", required=True, help="the local copies of the granules")
    p.add_argument("--ellipsoid", default="WGS84")
    p.add_argument("--leaf-order", type=int, default=12)
    p.add_argument("--parent-order", type=int, default=6)
    a = p.parse_args()
    report = json.load(open(a.report))
    shard = next((s for s in report["shard_reports"] if s["shard"] == a.shard), None)
    if shard is None:
        print(f"shard {a.shard} is not in {a.report}", file=sys.stderr)
        return 2
    local = {os.path.basename(g): g for g in a.granules}
    print(f"shard {a.shard}: {shard['counts']['observations']} observations, {len(shard['granule_reads'])} granules\n")
    print("| granule | requests | bytes fetched | lower bound (chunks with the shard's rows) | design bound (all lat/lon + value range) | full file | fetched / lower bound | fetched / full file |")
    print("|---|---|---|---|---|---|---|---|")
    tot = np.zeros(5)
    for r in shard["granule_reads"]:
        name = os.path.basename(r["granule"].split("/")[-1])
        lower, design, full = granule_bounds(local[name], a.shard, a.leaf_order, a.parent_order, a.ellipsoid)
        tot += [r["requests"], r["bytes_read"], lower, design, full]
        print(f"| {name} | {r['requests']} | {r['bytes_read']:,} | {lower:,} | {design:,} | {full:,} | {r['bytes_read'] / max(lower, 1):.1f} | {r['bytes_read'] / full:.2f} |")
    print(f"| **all** | {int(tot[0])} | {int(tot[1]):,} | {int(tot[2]):,} | {int(tot[3]):,} | {int(tot[4]):,} | {tot[1] / max(tot[2], 1):.1f} | {tot[1] / tot[4]:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

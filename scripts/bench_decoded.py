#!/usr/bin/env python3
"""Bytes zagg decodes for one shard, per granule, against the lower bound.

Runs `zagg process` for one shard on one granule at a time with the reader's reads traced
(`RUST_LOG=zagg::granule=trace`: every read's offset and length), and classifies each read
against the granule's chunk index as h5py reports it: a read that is exactly a chunk of a
dataset of a beam is that chunk decoded; everything else is HDF5 metadata (object headers,
B-tree nodes, heaps). Prints, per granule and in all:

* chunk bytes decoded (latitude and longitude, and the value datasets), and their count;
* the lower bound: the stored bytes of the chunks that hold the shard's rows (latitude,
  longitude, h_li, h_li_sigma, atl06_quality_summary), found independently (h5py + healpy);
* reading every latitude/longitude chunk (the previous design) for comparison;
* metadata bytes read.

Usage (docs/benchmarks.md has the recorded run):

    bench_decoded.py --zagg target/release/zagg --shard 41054 --granules /tmp/big/*.h5
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from bench_reads import BEAMS, POSITION, VALUES, chunk_spans, lower_bound, shard_rows  # noqa: E402


READ = re.compile(r"offset=(\d+) len=(\d+)")


def chunk_index(path):
    """(offset, size) → (beam, dataset, chunk start row) for every chunk read by a shard."""
    out = {}
    with h5py.File(path, "r") as f:
        for beam in BEAMS:
            group = f"{beam}/land_ice_segments"
            if group not in f:
                continue
            for name in POSITION + VALUES:
                d = f[f"{group}/{name}"]
                if d.chunks is None:
                    continue
                for i in range(d.id.get_num_chunks()):
                    info = d.id.get_chunk_info(i)
                    out[(info.byte_offset, info.size)] = (beam, name, info.chunk_offset[0])
    return out


def lower_and_full_positions(path, shard, leaf, parent, ellipsoid):
    lower = full_pos = 0
    with h5py.File(path, "r") as f:
        for g, rows in shard_rows(f, shard, leaf, parent, ellipsoid):
            lower += lower_bound(g, rows)
            for name in POSITION:
                full_pos += sum(s for _, _, s in chunk_spans(g[name]))
    return lower, full_pos


def decoded(zagg, shard, granule, config="atl06", ellipsoid="WGS84"):
    """(position bytes, value bytes, metadata bytes, position chunks, value chunks, lower bound,
    all lat/lon chunk bytes) for one granule: zagg's traced reads classified by h5py's index."""
    index = chunk_index(granule)
    with tempfile.TemporaryDirectory() as tmp:
        store = os.path.join(tmp, "s.zarr")
        subprocess.run([zagg, "template", "--store", store, "--config", config], check=True, capture_output=True)
        env = dict(os.environ, RUST_LOG="zagg::granule=trace", NO_COLOR="1")
        r = subprocess.run(
            [zagg, "process", "--shard", f"nested:{shard}", "--granules", granule, "--store", store, "--config", config],
            env=env, capture_output=True, text=True, check=True,
        )
    pos = val = meta = 0
    npos = nval = 0
    seen = set()
    for line in r.stderr.splitlines():
        m = READ.search(line)
        if not m or "granule read" not in line:
            continue
        key = (int(m.group(1)), int(m.group(2)))
        if key in index:
            if key in seen:
                continue
            seen.add(key)
            _, name, _ = index[key]
            if name in POSITION:
                pos += key[1]
                npos += 1
            else:
                val += key[1]
                nval += 1
        else:
            meta += key[1]
    lower, full_pos = lower_and_full_positions(granule, shard, 12, 6, ellipsoid)
    return pos, val, meta, npos, nval, lower, full_pos


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--zagg", required=True)
    p.add_argument("--shard", type=int, required=True, help="nested id at the parent order")
    p.add_argument("--granules", nargs="+", required=True)
    p.add_argument("--config", default="atl06")
    p.add_argument("--ellipsoid", default="WGS84")
    a = p.parse_args()
    print(f"shard {a.shard}\n")
    print("| granule | position chunks decoded (bytes) | value chunks decoded (bytes) | all chunk bytes decoded | lower bound | decoded / lower bound | all lat/lon chunks | metadata bytes read |")
    print("|---|---|---|---|---|---|---|---|")
    tot = np.zeros(6)
    for g in a.granules:
        pos, val, meta, npos, nval, lower, full_pos = decoded(a.zagg, a.shard, g, a.config, a.ellipsoid)
        tot += [pos, val, lower, full_pos, meta, npos]
        name = os.path.basename(g)
        print(f"| {name} | {npos} ({pos:,}) | {nval} ({val:,}) | {pos + val:,} | {lower:,} | {(pos + val) / max(lower, 1):.2f} | {full_pos:,} | {meta:,} |")
    pos, val, lower, full_pos, meta, npos = tot
    print(f"| **all** | {int(npos)} ({int(pos):,}) | ({int(val):,}) | {int(pos + val):,} | {int(lower):,} | {(pos + val) / max(lower, 1):.2f} | {int(full_pos):,} | {int(meta):,} |")


if __name__ == "__main__":
    main()

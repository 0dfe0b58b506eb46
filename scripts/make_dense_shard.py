#!/usr/bin/env python3
"""Write N full-length synthetic ATL06 granules (not committed) that all cross shard 41054.

A dense shard at real density for benchmarks (docs/benchmarks.md): every granule is a full
pass (6 beams x ~120,000 segments, 12-15 MB, the generator and layout of
tests/data/gen_granules.py) whose ground track crosses the order-6 shard 41054 (nested;
around -76.8, -107.5) somewhere: ascending or descending, at a different longitude, with the
shard's rows at a different place in the file (anchor fraction 0.15-0.85), each with its own
RGT and start time (so names differ). Most real tracks that reach a given shard clip it
rather than cross it through its middle; here each track is drawn at random around the shard
and kept only when its six beams leave between MIN_ROWS and MAX_ROWS rows in the shard
(counted from the beams' positions with healpy, WGS84, before the segments' random gaps),
so that about 1,800 rows per granule fall in the shard: ~110,000 for 60 granules.

Deterministic: granule i depends only on (SEED, i), so the first N granules of a larger set
are the N-granule set. Generation runs in two processes.

Usage: make_dense_shard.py OUTDIR --granules N [--segments 120000] [--jobs 2]
"""

import argparse
import datetime as dt
import multiprocessing
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "data"))
import gen_granules as gen  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "python"))
from check_store import hash_cells  # noqa: E402

SEED = 20260127
SHARD = 41054  # order-6 nested id
PARENT_ORDER = 6
# The shard's vertices (geocentric/authalic): N (-76.08, -108.95), W (-76.81, -110.0),
# S (-77.55, -105.88), E (-76.81, -105.0). Anchors are drawn in a box around it.
LAT_RANGE = (-77.75, -75.85)
LON_RANGE = (-111.0, -104.0)
MIN_ROWS = 300
MAX_ROWS = 3_900
WINDOW = 7_000  # segments either side of the anchor (140 km) searched for shard rows
START = dt.datetime(2024, 1, 2, 0, 0, 0)


def rows_in_shard(track, anchor_index):
    """Rows of the six beams inside the shard near the anchor (no gaps, no trims)."""
    k = np.arange(anchor_index - WINDOW, anchor_index + WINDOW + 1)
    s = (k - anchor_index) * gen.SEG_SPACING
    t = (k - anchor_index) * gen.DT_SEG
    n = 0
    for b in gen.BEAMS:
        lat, lon = track.positions(s, gen.BEAM_OFFSET[b], t)
        cells = hash_cells(lat, lon, PARENT_ORDER, "WGS84")
        n += int(np.count_nonzero(cells == SHARD))
    return n


def draw(i, n_seg):
    """Parameters of granule i: redrawn until the track leaves MIN_ROWS..MAX_ROWS rows."""
    rng = np.random.default_rng([SEED, i])
    while True:
        ascending = bool(rng.integers(0, 2))
        anchor = (float(rng.uniform(*LAT_RANGE)), float(rng.uniform(*LON_RANGE)))
        frac = float(rng.uniform(0.15, 0.85))
        track = gen.GreatCircleTrack.for_orbit(anchor[0], anchor[1], ascending)
        anchor_index = int(round(frac * (n_seg - 1)))
        n = rows_in_shard(track, anchor_index)
        if MIN_ROWS <= n <= MAX_ROWS:
            break
    rgt = int(rng.integers(1, 1388))
    start = START + dt.timedelta(hours=int(i) * 7, seconds=int(rng.integers(0, 3600)))
    return dict(ascending=ascending, anchor=anchor, frac=frac, rgt=rgt, start=start, expected=n)


def write_one(job):
    i, outdir, n_seg = job
    p = draw(i, n_seg)
    region = 12 if p["ascending"] else 10
    g = gen.make_granule(10_000 + i, p["rgt"], 22, region, p["ascending"], p["anchor"], n_seg,
                         p["frac"], p["start"])
    path = Path(outdir) / gen.granule_name(g)
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        gen.write_granule(tmp, g, name_for_attrs=path.name)
        tmp.rename(path)
    return i, path.name, path.stat().st_size, p["expected"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--granules", type=int, required=True)
    ap.add_argument("--segments", type=int, default=120_000)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    a.outdir.mkdir(parents=True, exist_ok=True)
    jobs = [(i, str(a.outdir), a.segments) for i in range(a.granules)]
    names = []
    total_rows = total_bytes = 0
    with multiprocessing.Pool(a.jobs) as pool:
        for i, name, size, expected in pool.imap(write_one, jobs):
            names.append(name)
            total_rows += expected
            total_bytes += size
            print(f"{i:4d} {name} {size:,} bytes, ~{expected} rows in shard {SHARD}", flush=True)
    # The benchmarks take "the first N granules" in this order (sorted names need not be).
    (a.outdir / "order.txt").write_text("".join(n + "\n" for n in names))
    print(f"{a.granules} granules, {total_bytes:,} bytes, ~{total_rows:,} rows in shard {SHARD} "
          f"(~{total_rows / max(a.granules, 1):,.0f} per granule, before gaps)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

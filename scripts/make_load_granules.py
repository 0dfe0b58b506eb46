#!/usr/bin/env python3
"""Write N sparse synthetic ATL06 granules (not committed) that together touch > 1,000 shards.

For the load and kill/resume runs (docs/reliability.md): each granule is a 3,200 km pass
over Antarctica (from about -60 deg to the turn near -88 deg and back out), with its six
beams posted every 2 km instead of every 20 m, so a file is small (~0.3 MB) and quick to
read while its track still crosses ~40 order-6 shards. The passes are spread evenly in
longitude, ascending and descending alternately, so N = 48 granules touch well over 1,000
distinct shards. Same generator and HDF5 layout as tests/data/gen_granules.py.

Deterministic: granule i depends only on (SEED, i).

Usage: make_load_granules.py OUTDIR [--granules 48]
"""

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "data"))
import gen_granules as gen  # noqa: E402

SEED = 20261126
SEGMENTS = 160_000  # 3,200 km at 20 m
POSTING = 100  # keep every 100th segment: 2 km


def load_granule(i, n):
    lon = -180.0 + 360.0 * (i + 0.5) / n
    ascending = i % 2 == 0
    # Anchor at -75 deg with the anchor in the middle of the pass: the track runs ~1,600 km
    # each way, through the polar turn on one side.
    track = gen.GreatCircleTrack.for_orbit(-75.0, lon, ascending)
    k = np.arange(0, SEGMENTS, POSTING)
    anchor_index = SEGMENTS // 2
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(hours=2 * i)
    t_start = gen.delta_time_of(start)
    beams = {}
    for bi, b in enumerate(gen.BEAMS):
        rng = np.random.default_rng([SEED, i, bi])
        beams[b] = gen.beam_arrays(rng, track, k, anchor_index, t_start, gen.BEAM_OFFSET[b],
                                   gen.BEAM_STRONG[b])
    t0 = min(float(d["delta_time"][0]) for d in beams.values())
    t1 = max(float(d["delta_time"][-1]) for d in beams.values())
    return {
        "rgt": 1000 + i, "cycle": 22, "region": 11 if ascending else 4,
        "ascending": ascending, "track": track, "beams": beams, "t0": t0, "t1": t1,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--granules", type=int, default=48)
    args = ap.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)
    for i in range(args.granules):
        g = load_granule(i, args.granules)
        path = args.outdir / gen.granule_name(g)
        if not path.exists():
            gen.write_granule(path, g)
    print(f"{args.granules} granules in {args.outdir}")


if __name__ == "__main__":
    main()

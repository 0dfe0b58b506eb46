#!/usr/bin/env python3
"""Write full-size synthetic ATL06 granules (not committed) for read-cost benchmarks.

Real south-polar granules hold up to ~120,000 segments per beam (SPEC §3). This writes the
four demo passes at that length (2,400 km each, same generator and layout as the demo set)
into OUTDIR. Usage: make_big_granules.py OUTDIR [--segments 120000]
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "data"))
import gen_granules as gen  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("outdir", type=Path)
    p.add_argument("--segments", type=int, default=120_000)
    a = p.parse_args()
    a.outdir.mkdir(parents=True, exist_ok=True)
    for gid, rgt, region, asc, anchor, frac, start, missing, empty in gen.DEMO:
        g = gen.make_granule(gid, rgt, 22, region, asc, anchor, a.segments, frac, start, missing=missing, empty=empty)
        path = a.outdir / gen.granule_name(g)
        gen.write_granule(path, g)
        print(f"{path} {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
